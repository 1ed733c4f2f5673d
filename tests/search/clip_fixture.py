"""A tiny open_clip model for tests: a small config registered under DEEPLENS_CLIP_MODEL, random
weights saved to DEEPLENS_CLIP_CHECKPOINT, loaded through the product's local-checkpoint path. The
test settings point at these files (deeplens/settings/test.py), so the Celery worker loads them too."""

import json
from pathlib import Path

TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def tiny_clip_build(*, model_name: str, checkpoint: str, config_path: str) -> None:
    """Write the config and a checkpoint of random weights, unless the same config is there."""
    import open_clip
    import torch

    config_file, checkpoint_file = Path(config_path), Path(checkpoint)
    config_file.parent.mkdir(parents=True, exist_ok=True)
    if (
        config_file.exists()
        and checkpoint_file.exists()
        and json.loads(config_file.read_text()) == TINY_CONFIG
    ):
        return
    config_file.write_text(json.dumps(TINY_CONFIG))
    from apps.search.embedders.clip import register_config

    register_config(model_name, str(config_file))
    torch.manual_seed(0)
    model = open_clip.create_model(model_name, pretrained=None)
    torch.save(model.state_dict(), checkpoint_file)
