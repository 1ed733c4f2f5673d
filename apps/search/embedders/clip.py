"""CLIP (open-clip-torch): image and text embeddings in one space, L2-normalised.

Weights come from a pretrained tag (`DEEPLENS_CLIP_PRETRAINED`, fetched by open_clip on online
installs) or a local checkpoint file (`DEEPLENS_CLIP_CHECKPOINT`, air-gapped installs). A model
that open_clip does not know can be described by an open_clip config JSON
(`DEEPLENS_CLIP_MODEL_CONFIG`), registered under `DEEPLENS_CLIP_MODEL`. Never random weights.

Preprocessing is done here with Pillow and numpy (resize the short side to the model's input with
bicubic filtering, centre crop, CLIP's mean/std), the same as open_clip's transform, so that images
can be decoded at reduced size in parallel threads while the model runs the previous batch.

The image tower runs in torch, or on CPUs in ONNX Runtime (`DEEPLENS_EMBED_RUNTIME`): the tower is
exported once per weights version to `DEEPLENS_MODEL_CACHE_DIR` and run by ORT's kernels, about 10 %
faster than torch in fp32 with the same vectors (`onnx`), and 1.6-1.8x with int8 weights
(`onnx-int8`, the default on CPUs: another version of the vectors, cosine about 0.994 to fp32's).
Text queries always run in torch (one at a time, fast enough)."""

import functools
import hashlib
import json
import logging
import os
import warnings
from functools import lru_cache

import numpy as np
from PIL import Image

from apps.search.embedders.base import Embedder, EmbedderUnavailable, l2_normalise
from apps.search.embedders.device import Device

logger = logging.getLogger(__name__)

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


@lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime: float) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def weights_version(*, model_name: str, pretrained: str, checkpoint: str) -> str:
    if checkpoint:
        stat = os.stat(checkpoint)
        return f"{model_name}:sha256-{_file_digest(checkpoint, stat.st_size, stat.st_mtime)}"
    return f"{model_name}:{pretrained}"


def register_config(model_name: str, config_path: str) -> None:
    """Make an open_clip model config (JSON) known under model_name, in this process."""
    import open_clip
    from open_clip import factory

    with open(config_path) as handle:
        config = json.load(handle)
    if factory._MODEL_CONFIGS.get(model_name) != config:
        factory._MODEL_CONFIGS[model_name] = config
    assert model_name in open_clip.list_models()


def clip_unavailable_reason(*, model_name: str, pretrained: str, checkpoint: str, config_path: str) -> str:
    """Empty when CLIP can run here; else why not, for people."""
    if not (pretrained or checkpoint):
        return "No CLIP weights are configured (DEEPLENS_CLIP_PRETRAINED or DEEPLENS_CLIP_CHECKPOINT)."
    if checkpoint and not os.path.isfile(checkpoint):
        return f"The configured CLIP checkpoint {checkpoint} does not exist."
    if config_path and not os.path.isfile(config_path):
        return f"The configured CLIP model config {config_path} does not exist."
    if not _importable("torch") or not _importable("open_clip"):
        return "torch and open-clip-torch are not installed on this host (make install-ml)."
    return ""


@functools.cache  # searched for on sys.path (about 40 us); every search by CLIP asks
def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")


def runtime_select(preference: str, *, device: Device, onnx_available: bool) -> str:
    """torch on a GPU (fp16 there); on CPUs ONNX Runtime with int8 weights when installed (the only
    way to 15+ images/s on two cores), unless torch or fp32 ONNX is asked for."""
    preference = (preference or "auto").lower()
    if preference not in RUNTIMES:
        raise EmbedderUnavailable(
            f"DEEPLENS_EMBED_RUNTIME must be one of {', '.join(RUNTIMES)}, not {preference!r}."
        )
    if device.name != "cpu" or preference == "torch":
        return "torch"
    if not onnx_available:
        if preference != "auto":
            raise EmbedderUnavailable(
                f"DEEPLENS_EMBED_RUNTIME={preference} needs onnxruntime (make install-ml)."
            )
        return "torch"
    return "onnx-int8" if preference == "auto" else preference


def _onnx_path(*, cache_dir: str, version: str, side: int, int8: bool) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in version)
    return os.path.join(cache_dir, f"clip-{stem}-{side}{'-int8' if int8 else ''}.onnx")


def onnx_image_session(visual, *, version: str, side: int, int8: bool, threads: int, cache_dir: str):
    """An ONNX Runtime session for the image tower, exported (and quantised) once per weights version;
    each file is written under a temporary name and renamed, so workers starting together agree."""
    import onnxruntime as ort
    import torch

    os.makedirs(cache_dir, exist_ok=True)
    fp32 = _onnx_path(cache_dir=cache_dir, version=version, side=side, int8=False)
    if not os.path.exists(fp32):
        partial = f"{fp32}.{os.getpid()}.tmp"
        example = torch.zeros((2, 3, side, side))
        with warnings.catch_warnings():  # the tracer's notes on shape checks it keeps as constants
            warnings.simplefilter("ignore")
            torch.onnx.export(
                visual,
                (example,),
                partial,
                input_names=["pixels"],
                output_names=["features"],
                dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(partial, fp32)
        logger.info("CLIP image tower exported to %s", fp32)
    path = fp32
    if int8:
        path = _onnx_path(cache_dir=cache_dir, version=version, side=side, int8=True)
        if not os.path.exists(path):
            from onnxruntime.quantization import QuantType, quantize_dynamic

            partial = f"{path}.{os.getpid()}.tmp"
            quantize_dynamic(fp32, partial, weight_type=QuantType.QInt8)
            os.replace(partial, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle ORT threads would spin for work and starve the threads decoding the next batch.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"]), path


class ClipEmbedder(Embedder):
    key = "clip"
    text = True

    def __init__(
        self,
        *,
        model_name: str,
        pretrained: str,
        checkpoint: str,
        config_path: str,
        device: Device,
        runtime: str = "torch",
        cache_dir: str = "",
    ):
        reason = clip_unavailable_reason(
            model_name=model_name, pretrained=pretrained, checkpoint=checkpoint, config_path=config_path
        )
        if reason:
            raise EmbedderUnavailable(reason)
        import open_clip
        import torch

        if config_path:
            register_config(model_name, config_path)
        self.torch = torch
        self.device = device
        self.version = weights_version(model_name=model_name, pretrained=pretrained, checkpoint=checkpoint)
        model = open_clip.create_model(
            model_name, pretrained=checkpoint or pretrained, device=device.name, precision="fp32"
        )
        model.eval()
        if device.half:
            model = model.half()
        self.model = model
        self.tokenizer = open_clip.get_tokenizer(model_name)
        size = model.visual.image_size
        self.input_side = int(size[0] if isinstance(size, (tuple, list)) else size)
        self.runtime = runtime_select(runtime, device=device, onnx_available=_importable("onnxruntime"))
        self.session = None
        if self.runtime.startswith("onnx"):
            int8 = self.runtime == "onnx-int8"
            self.session, self.onnx_path = onnx_image_session(
                model.visual,
                version=self.version,
                side=self.input_side,
                int8=int8,
                threads=device.threads,
                cache_dir=cache_dir or os.path.join(os.getcwd(), "var", "models"),
            )
            if int8:  # other vectors than fp32's: never compared with them
                self.version = f"{self.version}:int8"
        with torch.inference_mode():
            probe = np.zeros((1, 3, self.input_side, self.input_side), dtype=np.float32)
            self.dimensions = int(self.embed_arrays([probe[0]]).shape[1])
        logger.info(
            "CLIP %s loaded on %s with %s (%d dimensions)",
            self.version,
            device.name,
            self.runtime,
            self.dimensions,
        )

    def _encode_image(self, batch):
        if self.device.half:
            batch = batch.half()
        return self.model.encode_image(batch)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """One image as a (3, side, side) float32 array, normalised as CLIP expects."""
        side = self.input_side
        if image.mode != "RGB":
            image = image.convert("RGB")
        width, height = image.size
        scale = side / min(width, height)
        size = (max(side, round(width * scale)), max(side, round(height * scale)))
        if size != image.size:
            image = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
        left, top = (size[0] - side) // 2, (size[1] - side) // 2
        image = image.crop((left, top, left + side, top + side))
        array = np.asarray(image, dtype=np.float32) / 255.0
        return ((array - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1)

    def embed_arrays(self, arrays: list[np.ndarray]) -> np.ndarray:
        if not arrays:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self.session is not None:
            (features,) = self.session.run(
                None, {"pixels": np.ascontiguousarray(np.stack(arrays), np.float32)}
            )
            return l2_normalise(features.astype(np.float32))
        torch = self.torch
        with torch.inference_mode():
            batch = torch.from_numpy(np.stack(arrays)).to(self.device.name)
            features = self._encode_image(batch).float().cpu().numpy()
        return l2_normalise(features)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        return self.embed_arrays([self.preprocess(image) for image in images])

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            tokens = self.tokenizer(texts).to(self.device.name)
            features = self.model.encode_text(tokens).float().cpu().numpy()
        return l2_normalise(features)
