"""The weight-free descriptor as an embedder: always available, no torch."""

import numpy as np
from PIL import Image

from apps.search import descriptor
from apps.search.embedders.base import Embedder


class DescriptorEmbedder(Embedder):
    key = "descriptor"
    dimensions = descriptor.DIMENSIONS
    version = descriptor.VERSION
    local = True
    input_side = descriptor.SIDE

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([descriptor.describe(image) for image in images])
