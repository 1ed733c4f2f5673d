"""The tests' own tiny open_clip model (tests/search/clip_fixture.py: random weights saved to
DEEPLENS_CLIP_CHECKPOINT) switched on in a tenant, for features that need an active embedding
model (similar grouping). In process, torch runtime: no ONNX export, no worker."""

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context


def tiny_clip_saved() -> None:
    pytest.importorskip("torch", reason="make install-ml (make test installs it)")
    from tests.search.clip_fixture import tiny_clip_build

    tiny_clip_build(
        model_name=settings.DEEPLENS_CLIP_MODEL,
        checkpoint=settings.DEEPLENS_CLIP_CHECKPOINT,
        config_path=settings.DEEPLENS_CLIP_MODEL_CONFIG,
    )


def clip_switch_on(tenant):
    """CLIP active in the tenant with the saved tiny weights, its HNSW index built (as the
    activation job leaves it). Returns the SearchModel row."""
    from apps.search.embedders.registry import embedder_get
    from apps.search.models import SearchModel
    from apps.search.services.index import vector_index_ensure

    embedder = embedder_get("clip")
    with tenant_context(tenant):
        model, _created = SearchModel.objects.update_or_create(
            key="clip",
            defaults={"is_active": True, "version": embedder.version, "dimensions": embedder.dimensions},
        )
        vector_index_ensure(model="clip", dimensions=embedder.dimensions)
    return model


@pytest.fixture
def tiny_clip_model(settings):
    """The saved tiny CLIP, loaded with the torch runtime (the same vectors as the workers' fp32)."""
    tiny_clip_saved()
    settings.DEEPLENS_EMBED_RUNTIME = "torch"
    return settings.DEEPLENS_CLIP_MODEL
