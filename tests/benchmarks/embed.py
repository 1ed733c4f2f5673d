"""The `embed` stage of `make bench`: images/s from JPEG bytes to vectors.

- descriptor: the cost it adds to the ingest pipeline (from the 150 px rendition the hashes use,
  one core), and end to end from JPEG bytes (draft-mode decode + describe).
- CLIP ViT-B-32 (random weights saved to a checkpoint and loaded through the product's
  local-checkpoint path; timing only): the product's embed pipeline (apps/search/services/
  embedding.embed_stream: decode at reduced size in threads overlapped with batched inference), and
  the bare model on ready tensors for reference; with the image tower in torch, in ONNX Runtime
  (fp32) and in ONNX Runtime with int8 weights.
"""

import io
import os
import statistics
import tempfile
import time

from PIL import Image

from tests.imagefiles import BENCH_IMAGES


def _jpegs(count: int) -> list[bytes]:
    out = []
    photos = sorted(p for p in BENCH_IMAGES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    for path in photos:
        if len(out) >= count:
            break
        out.append(path.read_bytes())
    while len(out) < count:
        out.extend(out[: count - len(out)])
    return out


def _median_rate(runs: list[float], count: int) -> float:
    return round(count / statistics.median(runs), 2)


def descriptor_figures(count: int = 400, repeats: int = 3) -> dict:
    from apps.search import descriptor
    from apps.search.services.embedding import decode_bytes

    data = _jpegs(count)
    renditions = []
    for blob in data:
        img = Image.open(io.BytesIO(blob))
        img.draft("RGB", (300, 300))
        img = img.convert("RGB")
        img.thumbnail((150, 150), Image.Resampling.BILINEAR)
        renditions.append(img)
    from_rendition, from_bytes = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        for img in renditions:
            descriptor.describe(img)
        from_rendition.append(time.perf_counter() - started)
        started = time.perf_counter()
        for blob in data:
            descriptor.describe(decode_bytes(blob, descriptor.SIDE))
        from_bytes.append(time.perf_counter() - started)
    return {
        "images": count,
        "added_ingest_ms_per_image_from_150px_rendition": round(
            1000 * statistics.median(from_rendition) / count, 2
        ),
        "images_per_s_from_jpeg_bytes_one_core": _median_rate(from_bytes, count),
    }


def clip_figures(count: int = 256, repeats: int = 3, batch: int = 32, runtime: str = "torch") -> dict:
    import numpy as np
    import open_clip
    import torch

    from apps.search.embedders.clip import ClipEmbedder
    from apps.search.embedders.device import device_select
    from apps.search.services.embedding import decode_bytes, embed_stream

    data = _jpegs(count)
    with tempfile.TemporaryDirectory(prefix="deeplens-bench-clip-") as folder:
        checkpoint = os.path.join(folder, "vit-b-32-random.pt")
        torch.manual_seed(0)
        torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), checkpoint)
        device = device_select(
            preference="cpu", cuda_available=torch.cuda.is_available(), cpu_count=len(os.sched_getaffinity(0))
        )
        torch.set_num_threads(device.threads)
        embedder = ClipEmbedder(
            model_name="ViT-B-32",
            pretrained="",
            checkpoint=checkpoint,
            config_path="",
            device=device,
            runtime=runtime,
            cache_dir=folder,
        )

    def prepare(blob: bytes):
        return embedder.preprocess(decode_bytes(blob, embedder.input_side))

    def pipeline() -> int:
        done = 0
        for _items, vectors in embed_stream(embedder, data, prepare, batch=batch, threads=2):
            done += len(vectors)
        return done

    pipeline()  # warm-up (allocator, kernels)
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        assert pipeline() == count
        runs.append(time.perf_counter() - started)
    arrays = [prepare(blob) for blob in data[:batch]]
    bare = []
    for _ in range(repeats):
        started = time.perf_counter()
        embedder.embed_arrays(arrays)
        bare.append(time.perf_counter() - started)
    vectors = embedder.embed_arrays(arrays[:2])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    return {
        "model": "ViT-B-32 (random weights)",
        "runtime": embedder.runtime,
        "device": device.name,
        "torch_threads": device.threads,
        "batch": batch,
        "images": count,
        "end_to_end_images_per_s_from_jpeg_bytes": _median_rate(runs, count),
        "bare_model_images_per_s": _median_rate(bare, batch),
    }


def _django() -> None:
    """The embedders use the product's decoding (Django settings); no database is touched."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deeplens.settings.local")
    os.environ.setdefault("DATABASE_URL", "postgresql://bench@127.0.0.1:1/unused?sslmode=disable")
    django.setup()


def embed_benchmark(context: dict) -> dict:
    _django()
    results = {"descriptor": descriptor_figures()}
    try:
        # torch, then ONNX Runtime (the default on CPUs), then ONNX Runtime with int8 weights.
        for key, runtime in (("clip", "torch"), ("clip_onnx", "onnx"), ("clip_onnx_int8", "onnx-int8")):
            results[key] = clip_figures(
                count=int(os.environ.get("DEEPLENS_BENCH_EMBED_IMAGES", "256")),
                batch=int(os.environ.get("DEEPLENS_BENCH_EMBED_BATCH", "32")),
                runtime=runtime,
            )
    except ImportError as exc:
        results["clip"] = {"skipped": f"torch/open_clip/onnxruntime not installed ({exc}); make install-ml"}
    return results
