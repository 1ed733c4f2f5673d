"""Which models an installation can run, without loading any."""

from apps.search.embedders import clip as clip_module
from apps.search.embedders import resnet as resnet_module
from apps.search.embedders.registry import model_catalogue


def catalogue() -> dict:
    return {info.key: info for info in model_catalogue()}


def test_without_torch_only_the_descriptor_is_available(settings, monkeypatch, tmp_path):
    checkpoint = tmp_path / "clip.pt"
    checkpoint.write_bytes(b"weights")
    settings.DEEPLENS_CLIP_CHECKPOINT, settings.DEEPLENS_CLIP_MODEL_CONFIG = str(checkpoint), ""
    settings.DEEPLENS_RESNET50_DOWNLOAD = True
    monkeypatch.setattr(clip_module, "_importable", lambda name: False)
    monkeypatch.setattr(resnet_module, "_importable", lambda name: False)

    models = catalogue()

    assert models["descriptor"].available
    assert not models["clip"].available
    assert "make install-ml" in models["clip"].reason
    assert not models["resnet50"].available
    assert "make install-ml" in models["resnet50"].reason


def test_weights_that_are_configured_but_missing_are_named(settings):
    settings.DEEPLENS_CLIP_CHECKPOINT, settings.DEEPLENS_CLIP_PRETRAINED = "/nowhere/clip.pt", ""
    settings.DEEPLENS_RESNET50_WEIGHTS = "/nowhere/resnet50.pth"

    models = catalogue()

    assert models["clip"].reason == "The configured CLIP checkpoint /nowhere/clip.pt does not exist."
    assert models["resnet50"].reason == "The configured ResNet-50 weights /nowhere/resnet50.pth do not exist."


def test_a_pretrained_tag_makes_clip_available_where_torch_is(settings):
    settings.DEEPLENS_CLIP_CHECKPOINT, settings.DEEPLENS_CLIP_PRETRAINED = "", "laion2b_s34b_b79k"
    settings.DEEPLENS_CLIP_MODEL_CONFIG = ""

    assert catalogue()["clip"].available
