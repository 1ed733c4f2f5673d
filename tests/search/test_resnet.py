"""ResNet-50 through its real loading code: a checkpoint the test makes and saves itself (torchvision's
architecture, seeded weights) loaded from a local path, as an air-gapped install does, and the download
path with the model hub unreachable (the one thing mocked: it is across the machine boundary)."""

import urllib.error

import numpy as np
import pytest
from PIL import Image

from apps.search.embedders import registry
from apps.search.embedders.base import EmbedderUnavailable
from apps.search.embedders.device import Device
from apps.search.embedders.resnet import ResnetEmbedder
from tests.imagefiles import BENCH_IMAGES

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
CPU = Device(name="cpu", half=False, threads=1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(50)
    path = tmp_path_factory.mktemp("resnet") / "resnet50.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def photos():
    paths = sorted(p for p in BENCH_IMAGES.iterdir() if p.suffix.lower() == ".jpg")[:3]
    return [Image.open(path).convert("RGB") for path in paths]


def test_a_local_state_dict_loads_and_embeds_into_unit_2048_vectors(checkpoint, photos):
    embedder = ResnetEmbedder(weights=str(checkpoint), download=False, device=CPU)

    vectors = embedder.embed_images(photos)
    again = embedder.embed_images(photos[:1])

    assert vectors.shape == (3, 2048)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], again[0], atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)
    assert embedder.version.startswith("resnet50:sha256-")


def test_the_registry_offers_resnet_once_weights_are_configured(checkpoint, settings):
    settings.DEEPLENS_RESNET50_WEIGHTS = str(checkpoint)
    settings.DEEPLENS_EMBED_DEVICE = "cpu"

    info = registry.model_info(registry.RESNET50)
    embedder = registry.embedder_get(registry.RESNET50)

    assert (info.available, info.reason, info.dimensions) == (True, "", 2048)
    assert embedder.dimensions == 2048
    with pytest.raises(EmbedderUnavailable):  # ResNet-50 has no text tower
        embedder.embed_texts(["a dog"])


def test_a_file_that_is_not_a_resnet50_state_dict_is_refused_with_a_reason(tmp_path):
    wrong = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")

    for path in (wrong, garbage):
        with pytest.raises(EmbedderUnavailable) as caught:
            ResnetEmbedder(weights=str(path), download=False, device=CPU)
        assert f"The file {path} is not a torchvision ResNet-50 state dict" in str(caught.value)


def test_download_without_a_reachable_hub_says_how_to_configure_local_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # nothing cached

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("no route to download.pytorch.org")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", unreachable)

    with pytest.raises(EmbedderUnavailable) as caught:
        ResnetEmbedder(weights="", download=True, device=CPU)

    assert "could not be downloaded" in str(caught.value)
    assert "DEEPLENS_RESNET50_WEIGHTS" in str(caught.value)
