import uuid

from django.conf import settings
from django.db import models

from apps.jobs.registry import validate_kind


class Job(models.Model):
    """A background job a person (or the scheduler) started, with progress they can watch. What it
    does is its kind's runner (apps/jobs/registry.py); `params` holds its input and its cursor."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (State.QUEUED, State.RUNNING)
    FINISHED = (State.DONE, State.FAILED, State.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Validated against the registry, not by choices: a new kind needs no migration.
    kind = models.CharField(max_length=40, validators=[validate_kind])
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # The last sign of life of the worker running it (or of the last enqueue of a queued job): a
    # job silent for long is resumed elsewhere.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # How many times a worker took the job up (first run and resumes); capped by the resumer.
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.state}"

    @property
    def label(self) -> str:
        from apps.jobs.registry import kind_label

        return kind_label(self.kind)

    @property
    def progress(self) -> float:
        return (
            round((self.processed + self.failed) / self.total, 4)
            if self.total
            else (1.0 if self.state == "done" else 0.0)
        )
