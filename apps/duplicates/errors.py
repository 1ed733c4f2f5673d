from apps.core.errors import Conflict, InvalidInput, NotFound


class GroupNotFound(NotFound):
    code = "duplicate_group_not_found"


class GroupNotOpen(Conflict):
    code = "duplicate_group_not_open"


class InvalidKeep(InvalidInput):
    code = "invalid_keep"


class ResolutionNotFound(NotFound):
    code = "resolution_not_found"


class ResolutionNotUndoable(Conflict):
    code = "resolution_not_undoable"


class InvalidPolicy(InvalidInput):
    code = "invalid_duplicate_settings"


class SimilarNeedsModel(InvalidInput):
    """Similar grouping compares embeddings of a model: without one active it cannot run."""

    code = "similar_needs_model"


class SimilarNotBulkResolvable(InvalidInput):
    code = "similar_not_bulk_resolvable"
