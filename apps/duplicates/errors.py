from apps.core.errors import Conflict, InvalidInput, NotFound


class GroupNotFound(NotFound):
    code = "duplicate_group_not_found"


class GroupNotOpen(Conflict):
    code = "duplicate_group_not_open"


class InvalidKeep(InvalidInput):
    code = "invalid_keep"


class InvalidPolicy(InvalidInput):
    code = "invalid_duplicate_settings"
