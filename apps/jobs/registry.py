"""Kind → runner. Each domain registers its kinds in its AppConfig.ready():

    job_kind_register(
        kind="thumbnails_apply", label="Apply thumbnail configuration",
        runner="apps.images.services.jobs.thumbnails_job_run", permission="images.view",
        queue="thumbnails",
    )

A runner is `runner(ctx: JobContext) -> None` (apps/jobs/runner.py), or the dotted path of one,
imported when a job of the kind first runs (a domain's ready() stays cheap). The jobs app never
imports the domains: they import it.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string

Runner = Callable[[Any], None]
DEFAULT_TIME_LIMIT = 6 * 3600


@dataclass(frozen=True)
class JobKind:
    kind: str
    label: str
    runner: Runner | str
    # Who may see the job (an apps.accounts.permissions.Perm value) and who may cancel it (the same
    # unless said otherwise).
    permission: str
    # The Celery queue jobs.run goes to for this kind.
    queue: str
    cancellable: bool = True
    # Safe to run again from its cursor after its worker died; otherwise a stalled job fails.
    resumable: bool = True
    time_limit: int = DEFAULT_TIME_LIMIT
    manage_permission: str = ""
    # The params keys that are the job's input: a failed or cancelled job may be retried as a new
    # job with these (its cursor and findings left behind). None: it cannot be retried.
    retry_params: tuple[str, ...] | None = None
    # Only one job of the kind queued or running at a time (checked when it is retried).
    single_flight: bool = False
    _resolved: list = field(default_factory=list, compare=False, repr=False)

    def resolve_runner(self) -> Runner:
        if not self._resolved:
            self._resolved.append(import_string(self.runner) if isinstance(self.runner, str) else self.runner)
        return self._resolved[0]


_KINDS: dict[str, JobKind] = {}


def job_kind_register(
    *,
    kind: str,
    label: str,
    runner: Runner | str,
    permission: str,
    queue: str,
    cancellable: bool = True,
    resumable: bool = True,
    time_limit: int = DEFAULT_TIME_LIMIT,
    manage_permission: str | None = None,
    retry_params: tuple[str, ...] | None = None,
    single_flight: bool = False,
) -> JobKind:
    """Register a kind; registering the same kind again (ready() run twice) replaces it."""
    if not kind or len(kind) > 40:
        raise ValueError(f"A job kind is 1 to 40 characters: {kind!r}")
    spec = JobKind(
        kind=kind,
        label=label,
        runner=runner,
        permission=str(permission),
        queue=queue,
        cancellable=cancellable,
        resumable=resumable,
        time_limit=time_limit,
        manage_permission=str(manage_permission or permission),
        retry_params=retry_params,
        single_flight=single_flight,
    )
    _KINDS[kind] = spec
    return spec


def job_kind_get(kind: str) -> JobKind:
    from apps.jobs.errors import UnknownJobKind

    try:
        return _KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(_KINDS)) or "none"
        raise UnknownJobKind(
            f"Unknown job kind {kind!r}; the registered kinds are: {known}.", extra={"kind": kind}
        ) from None


def job_kinds() -> list[JobKind]:
    return sorted(_KINDS.values(), key=lambda spec: spec.kind)


def kinds_visible_to(held) -> list[str]:
    """The kinds whose jobs a caller holding these permissions may see."""
    return [spec.kind for spec in job_kinds() if spec.permission in held]


def job_retryable(job) -> bool:
    """Whether this job may be retried now: a failed or cancelled job of a kind that allows it."""
    spec = _KINDS.get(job.kind)
    return bool(spec and spec.retry_params is not None and job.state in ("failed", "cancelled"))


def kind_label(kind: str) -> str:
    spec = _KINDS.get(kind)
    return spec.label if spec else kind


def validate_kind(value: str) -> None:
    """The model field's validator (full_clean): only registered kinds."""
    if value not in _KINDS:
        known = ", ".join(sorted(_KINDS)) or "none"
        raise ValidationError(
            "Unknown job kind %(kind)s; the registered kinds are: %(known)s.",
            code="job_kind_unknown",
            params={"kind": repr(value), "known": known},
        )
