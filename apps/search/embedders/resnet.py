"""ResNet-50 (torchvision): 2,048-d global-pooled features, L2-normalised, stored as halfvec.

Weights from a local file (`DEEPLENS_RESNET50_WEIGHTS`, a torchvision state dict) or, on online
installs, torchvision's download (`DEEPLENS_RESNET50_DOWNLOAD=true`). Never random weights."""

import logging
import os
import pickle

import numpy as np
from PIL import Image

from apps.search.embedders.base import Embedder, EmbedderUnavailable, l2_normalise
from apps.search.embedders.clip import _file_digest, _importable
from apps.search.embedders.device import Device

logger = logging.getLogger(__name__)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def resnet_unavailable_reason(*, weights: str, download: bool) -> str:
    if not weights and not download:
        return (
            "No ResNet-50 weights are configured (DEEPLENS_RESNET50_WEIGHTS or DEEPLENS_RESNET50_DOWNLOAD)."
        )
    if weights and not os.path.isfile(weights):
        return f"The configured ResNet-50 weights {weights} do not exist."
    if not _importable("torch") or not _importable("torchvision"):
        return "torch and torchvision are not installed on this host (make install-ml)."
    return ""


class ResnetEmbedder(Embedder):
    key = "resnet50"
    dimensions = 2048
    input_side = 224

    def __init__(self, *, weights: str, download: bool, device: Device):
        reason = resnet_unavailable_reason(weights=weights, download=download)
        if reason:
            raise EmbedderUnavailable(reason)
        import torch
        import torchvision

        self.torch, self.device = torch, device
        if weights:
            model = torchvision.models.resnet50(weights=None)
            try:
                model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            except (RuntimeError, ValueError, OSError, EOFError, pickle.UnpicklingError) as exc:
                first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise EmbedderUnavailable(
                    f"The file {weights} is not a torchvision ResNet-50 state dict: {first_line}"
                ) from exc
            stat = os.stat(weights)
            self.version = f"resnet50:sha256-{_file_digest(weights, stat.st_size, stat.st_mtime)}"
        else:
            try:
                model = torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V2)
            except (OSError, RuntimeError) as exc:  # URLError is an OSError: no route to the hub
                raise EmbedderUnavailable(
                    f"The ResNet-50 weights could not be downloaded ({exc}). On hosts without internet "
                    "access, set DEEPLENS_RESNET50_WEIGHTS to a local state dict file."
                ) from exc
            self.version = "resnet50:IMAGENET1K_V2"
        model.fc = torch.nn.Identity()
        model.eval().to(device.name)
        self.model = model.half() if device.half else model

    def preprocess(self, image: Image.Image) -> np.ndarray:
        if image.mode != "RGB":
            image = image.convert("RGB")
        width, height = image.size
        scale = 256 / min(width, height)
        image = image.resize(
            (max(256, round(width * scale)), max(256, round(height * scale))), Image.Resampling.BILINEAR
        )
        left, top = (image.width - 224) // 2, (image.height - 224) // 2
        array = np.asarray(image.crop((left, top, left + 224, top + 224)), dtype=np.float32) / 255.0
        return ((array - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)

    def embed_arrays(self, arrays: list[np.ndarray]) -> np.ndarray:
        if not arrays:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        torch = self.torch
        with torch.inference_mode():
            batch = torch.from_numpy(np.stack(arrays)).to(self.device.name)
            if self.device.half:
                batch = batch.half()
            return l2_normalise(self.model(batch).float().cpu().numpy())

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        return self.embed_arrays([self.preprocess(image) for image in images])
