from apps.core.errors import Conflict, InvalidInput, NotFound


class WebhookUrlNotAllowed(InvalidInput):
    code = "webhook_url_not_allowed"


class WebhookInvalid(InvalidInput):
    code = "webhook_invalid"


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class WebhookDisabled(Conflict):
    code = "webhook_disabled"
