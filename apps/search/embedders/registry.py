"""Which embedders this installation can run, and the loaded instance of each (once per process)."""

import threading

from django.conf import settings

from apps.search.embedders.base import Embedder, EmbedderUnavailable, ModelInfo
from apps.search.embedders.clip import clip_unavailable_reason
from apps.search.embedders.descriptor import DescriptorEmbedder
from apps.search.embedders.resnet import resnet_unavailable_reason

DESCRIPTOR, CLIP, RESNET50 = "descriptor", "clip", "resnet50"
KEYS = (DESCRIPTOR, CLIP, RESNET50)
LABELS = {
    DESCRIPTOR: "Visual descriptor (built in)",
    CLIP: "CLIP (images and text)",
    RESNET50: "ResNet-50",
}
_lock = threading.Lock()
_loaded: dict[tuple, Embedder] = {}


def _config(key: str) -> tuple:
    if key == CLIP:
        return (
            CLIP,
            settings.DEEPLENS_CLIP_MODEL,
            settings.DEEPLENS_CLIP_PRETRAINED,
            settings.DEEPLENS_CLIP_CHECKPOINT,
            settings.DEEPLENS_CLIP_MODEL_CONFIG,
            settings.DEEPLENS_EMBED_RUNTIME,
        )
    if key == RESNET50:
        return (RESNET50, settings.DEEPLENS_RESNET50_WEIGHTS, settings.DEEPLENS_RESNET50_DOWNLOAD)
    return (key,)


def unavailable_reason(key: str) -> str:
    if key == DESCRIPTOR:
        return ""
    if key == CLIP:
        _k, name, pretrained, checkpoint, config, _runtime = _config(CLIP)
        return clip_unavailable_reason(
            model_name=name, pretrained=pretrained, checkpoint=checkpoint, config_path=config
        )
    if key == RESNET50:
        return resnet_unavailable_reason(
            weights=settings.DEEPLENS_RESNET50_WEIGHTS, download=settings.DEEPLENS_RESNET50_DOWNLOAD
        )
    return f"Unknown model {key!r}."


def model_info(key: str) -> ModelInfo:
    reason = unavailable_reason(key)
    loaded = _loaded.get(_config(key))
    if key == DESCRIPTOR:
        embedder = DescriptorEmbedder()
        return ModelInfo(DESCRIPTOR, LABELS[key], embedder.dimensions, embedder.version, False, True)
    dimensions = loaded.dimensions if loaded else (2048 if key == RESNET50 else 0)
    version = loaded.version if loaded else ""
    return ModelInfo(key, LABELS[key], dimensions, version, key == CLIP, not reason, reason)


def model_catalogue() -> list[ModelInfo]:
    return [model_info(key) for key in KEYS]


def embedder_get(key: str) -> Embedder:
    """The loaded embedder (loaded on first use in this process). Raises EmbedderUnavailable."""
    if key not in KEYS:
        raise EmbedderUnavailable(f"Unknown model {key!r}.")
    config = _config(key)
    embedder = _loaded.get(config)
    if embedder is not None:
        return embedder
    with _lock:
        if config not in _loaded:
            _loaded[config] = _build(key)
        return _loaded[config]


def _build(key: str) -> Embedder:
    if key == DESCRIPTOR:
        return DescriptorEmbedder()
    reason = unavailable_reason(key)
    if reason:
        raise EmbedderUnavailable(reason)
    from apps.search.embedders.device import device_detect

    device = device_detect(
        preference=settings.DEEPLENS_EMBED_DEVICE, threads_setting=settings.DEEPLENS_EMBED_THREADS
    )
    if key == CLIP:
        from apps.search.embedders.clip import ClipEmbedder

        _k, name, pretrained, checkpoint, config, runtime = _config(CLIP)
        return ClipEmbedder(
            model_name=name,
            pretrained=pretrained,
            checkpoint=checkpoint,
            config_path=config,
            device=device,
            runtime=runtime,
            cache_dir=settings.DEEPLENS_MODEL_CACHE_DIR,
        )
    from apps.search.embedders.resnet import ResnetEmbedder

    return ResnetEmbedder(
        weights=settings.DEEPLENS_RESNET50_WEIGHTS,
        download=settings.DEEPLENS_RESNET50_DOWNLOAD,
        device=device,
    )
