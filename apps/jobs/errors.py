from apps.core.errors import Conflict, InvalidInput, NotFound


class UnknownJobKind(InvalidInput):
    code = "job_kind_unknown"


class JobNotFound(NotFound):
    code = "job_not_found"


class JobConflict(Conflict):
    code = "job_conflict"


class JobAlreadyRunning(Conflict):
    """A single-flight kind already has a queued or running job (its id is in the detail)."""

    code = "job_already_running"


class JobFailed(Exception):
    """A runner raises it to end its job as failed, with a reason the user can read."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class JobCancelled(Exception):
    """Raised by JobContext.heartbeat() once someone cancelled the job: the runner stops there."""
