"""Who did something, from where: passed to every service that writes an audit event."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.accounts.models import User


@dataclass(frozen=True)
class Actor:
    user: "User | None" = None
    impersonator: "User | None" = None
    api_key_prefix: str = ""
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def system(cls) -> "Actor":
        return cls()

    @classmethod
    def from_request(cls, request) -> "Actor":
        user = getattr(request, "user", None)
        return cls(
            user=user if user is not None and user.is_authenticated else None,
            impersonator=getattr(request, "impersonator", None),
            api_key_prefix=getattr(getattr(request, "api_key", None), "prefix", ""),
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:400],
        )


def client_ip(request) -> str | None:
    """The peer address. Behind a proxy, configure it to set REMOTE_ADDR (we never trust
    X-Forwarded-For from the client)."""
    return request.META.get("REMOTE_ADDR") or None
