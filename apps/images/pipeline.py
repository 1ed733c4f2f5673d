"""The image pipeline, in order. Open this first.

    upload    apps/images (web)               the original stored; an Image row, PENDING
    process   apps/images, queue `ingest`      decode once -> thumbnails -> perceptual hashes; READY
    index     apps/duplicates, queue `index`   one more decode: the search descriptor (the image is
                                               searchable from here) and the duplicate signature
    detect    apps/duplicates, queue `index`   candidates found, verified and grouped (the image is
                                               checked for duplicates)
    embed     apps/search, queue `embed`       a vector per active torch model (CLIP, ResNet-50)

Triggers. An upload (or a storage scan, through `image_register`) wakes `process`. When a batch of
images becomes READY, `images_ready()` calls each later stage's `on_ready` hook inside the same
transaction; the hooks enqueue their tasks once it commits. Index and detect run as one task and
yield to ingestion: while uploads wait, they leave fresh images to `on_drained` (called when the
processing queue runs dry) and to the sweep, which also picks up any image whose stage is missing,
was claimed by a worker that died, or gave up on a transient error.

Status. `process` keeps its state on the Image row (status, failed_stage, *_at). Every later stage
records an `ImageStage` row per image (state, attempts, reason, duration); `GET images/{id}/status`
and the pages show them.

The apps that implement the later stages plug in here from their AppConfig.ready() with
`stage_connect()`; the images app never imports them.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageInfo:
    name: str
    app: str
    queue: str
    trigger: str
    summary: str


STAGES: tuple[StageInfo, ...] = (
    StageInfo(
        "process", "apps.images", "ingest", "upload, storage scan, retry", "decode, thumbnails, hashes"
    ),
    StageInfo("index", "apps.duplicates", "index", "process done", "search descriptor + duplicate signature"),
    StageInfo(
        "detect", "apps.duplicates", "index", "index done (same task)", "duplicate candidates verified"
    ),
    StageInfo("embed", "apps.search", "embed", "process done, per active model", "CLIP / ResNet-50 vector"),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)


@dataclass
class Hooks:
    on_ready: Callable[[list[str]], object] | None = None
    on_drained: Callable[[], object] | None = None
    sweep: Callable[..., int] | None = None  # sweep(worker_started=bool): how many were sent
    variants: Callable[[], list[str]] | None = None  # e.g. embed -> ["embed:clip-vit-b-32"]
    on_changed: Callable[[list[str]], object] | None = None  # images went to or came back from the trash


_hooks: dict[str, Hooks] = {}


def stage_connect(
    name: str,
    *,
    on_ready: Callable[[list[str]], object] | None = None,
    on_drained: Callable[[], object] | None = None,
    sweep: Callable[..., int] | None = None,
    variants: Callable[[], list[str]] | None = None,
    on_changed: Callable[[list[str]], object] | None = None,
) -> None:
    """Plug a stage's implementation in (from the implementing app's AppConfig.ready())."""
    if name not in STAGE_NAMES or name == "process":
        raise ValueError(f"{name!r} is not a later stage of the pipeline ({', '.join(STAGE_NAMES[1:])}).")
    _hooks[name] = Hooks(
        on_ready=on_ready, on_drained=on_drained, sweep=sweep, variants=variants, on_changed=on_changed
    )


def _connected() -> Iterable[tuple[str, Hooks]]:
    return ((stage.name, _hooks[stage.name]) for stage in STAGES if stage.name in _hooks)


def images_ready(image_ids: list) -> None:
    """Images just became READY (call inside the transaction that says so)."""
    ids = [str(image_id) for image_id in image_ids]
    if not ids:
        return
    for _name, hooks in _connected():
        if hooks.on_ready:
            hooks.on_ready(ids)


def images_changed(image_ids: list) -> None:
    """Images went to the trash or came back (inside that transaction): what the later stages
    derived from them (duplicate groups' counts and bytes) is brought up to date."""
    ids = [str(image_id) for image_id in image_ids]
    for _name, hooks in _connected():
        if hooks.on_changed and ids:
            hooks.on_changed(ids)


def ingest_drained() -> None:
    """The tenant's processing queue ran dry: work that yielded to ingestion may start."""
    for _name, hooks in _connected():
        if hooks.on_drained:
            hooks.on_drained()


def stages_sweep(*, worker_started: bool = False) -> int:
    """Each later stage re-enqueues what is missing, stale or due for a retry (this tenant). When a
    worker has just started or died (a deploy may have changed a method's version; work in flight
    was lost), stages also look for results of an older version and forget single-flight markers."""
    count = 0
    for _name, hooks in _connected():
        if hooks.sweep:
            count += hooks.sweep(worker_started=worker_started)
    return count


def stage_names() -> list[str]:
    """The later stages' status names as they apply now ("index", "detect", "embed:<model>")."""
    names: list[str] = []
    for stage in STAGES[1:]:
        hooks = _hooks.get(stage.name)
        if hooks is None:
            continue
        names.extend(hooks.variants() if hooks.variants else [stage.name])
    return names
