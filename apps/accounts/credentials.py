"""Which tenant an API credential belongs to, read before routing (the API has one base URL)."""

from apps.accounts.models import ApiKey
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
        tenant_id = ApiKey.objects.filter(prefix=parsed[0]).values_list("tenant_id", flat=True).first()
        return str(tenant_id) if tenant_id else None
    return None
