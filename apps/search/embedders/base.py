"""The interface every embedder implements."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from PIL import Image


class EmbedderUnavailable(Exception):
    """The model cannot run here: no weights configured, or torch / open_clip not installed."""


@dataclass(frozen=True)
class ModelInfo:
    key: str  # "descriptor", "clip", "resnet50"
    label: str
    dimensions: int
    version: str  # changes whenever the vectors would; stored with every embedding
    text: bool  # can embed text queries
    available: bool
    reason: str = ""  # why it is unavailable, for people


class Embedder(ABC):
    """Image (and optionally text) embeddings, L2-normalised float32 rows."""

    key: str
    dimensions: int
    version: str
    text = False
    # Embeds in the calling process without torch (the web process may use it directly).
    local = False
    # Side the image should be decoded to at least (JPEG draft mode picks a reduced scale).
    input_side = 224

    @abstractmethod
    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """One row per image."""

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        raise EmbedderUnavailable(f"{self.key} has no text encoder")


def l2_normalise(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)
