"""CLIP's image tower in ONNX Runtime: exported once per weights version to the model cache, the same
vectors as torch in fp32, a separate version for int8, and the choice of runtime per device."""

import os

import numpy as np
import pytest
from django.conf import settings

from apps.search.embedders.base import EmbedderUnavailable
from apps.search.embedders.clip import ClipEmbedder, runtime_select
from apps.search.embedders.device import Device
from tests.imagefiles import bench_photos

CPU = Device(name="cpu", half=False, threads=2)
GPU = Device(name="cuda", half=True, threads=0)


def _embedder(runtime: str, cache_dir) -> ClipEmbedder:
    return ClipEmbedder(
        model_name=settings.DEEPLENS_CLIP_MODEL,
        pretrained="",
        checkpoint=settings.DEEPLENS_CLIP_CHECKPOINT,
        config_path=settings.DEEPLENS_CLIP_MODEL_CONFIG,
        device=CPU,
        runtime=runtime,
        cache_dir=str(cache_dir),
    )


@pytest.fixture(scope="module")
def arrays(tiny_clip):
    from PIL import Image

    reference = _embedder("torch", "")
    return [reference.preprocess(Image.open(path)) for path in bench_photos(6)]


def test_onnx_gives_torchs_vectors_and_exports_once(tiny_clip, arrays, tmp_path):
    torch_vectors = _embedder("torch", tmp_path).embed_arrays(arrays)

    first = _embedder("onnx", tmp_path)
    exported = os.stat(first.onnx_path).st_mtime_ns
    again = _embedder("onnx", tmp_path)
    onnx_vectors = again.embed_arrays(arrays)

    assert first.runtime == "onnx" and first.session is not None
    assert os.path.dirname(first.onnx_path) == str(tmp_path)
    assert os.stat(again.onnx_path).st_mtime_ns == exported  # reused, not exported again
    assert first.version == _embedder("torch", tmp_path).version  # same vectors, same version
    assert onnx_vectors.shape == torch_vectors.shape == (6, 32)
    assert np.allclose(onnx_vectors, torch_vectors, atol=1e-4)
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_int8_is_another_version_of_close_vectors(tiny_clip, arrays, tmp_path):
    fp32 = _embedder("onnx", tmp_path)
    int8 = _embedder("onnx-int8", tmp_path)

    a, b = fp32.embed_arrays(arrays), int8.embed_arrays(arrays)

    assert int8.version == f"{fp32.version}:int8"
    assert int8.onnx_path.endswith("-int8.onnx")
    assert float(np.min(np.sum(a * b, axis=1))) > 0.9  # cosine to fp32, a tiny random model
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)


def test_the_runtime_follows_the_device_and_what_is_installed():
    assert runtime_select("auto", device=CPU, onnx_available=True) == "onnx-int8"
    assert runtime_select("onnx", device=CPU, onnx_available=True) == "onnx"
    assert runtime_select("auto", device=CPU, onnx_available=False) == "torch"
    assert runtime_select("auto", device=GPU, onnx_available=True) == "torch"
    assert runtime_select("onnx-int8", device=GPU, onnx_available=True) == "torch"  # fp16 on the GPU
    assert runtime_select("torch", device=CPU, onnx_available=True) == "torch"
    assert runtime_select("onnx-int8", device=CPU, onnx_available=True) == "onnx-int8"
    with pytest.raises(EmbedderUnavailable, match="needs onnxruntime"):
        runtime_select("onnx", device=CPU, onnx_available=False)
    with pytest.raises(EmbedderUnavailable, match="must be one of"):
        runtime_select("tensorrt", device=CPU, onnx_available=True)
