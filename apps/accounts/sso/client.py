"""The OpenID Connect relying party of one workspace provider, built on Authlib's Django client.

Authlib does the protocol: discovery, the authorization request with `state`, `nonce` and PKCE (S256)
kept in the session, the code exchange, and the ID token's checks (signature against the provider's
JWKS, `iss`, `aud`/`azp`, `exp`/`iat` with DEEPLENS_SSO_CLOCK_SKEW_SECONDS of leeway, `nonce`).
What this module adds:

- every URL DeepLens itself fetches (the discovery document, the token endpoint, the JWKS) must be
  http(s) without userinfo and resolve only to allowed addresses: public ones, or
  DEEPLENS_SSO_ALLOWED_NETWORKS (apps.core.network, the same rules as storage endpoints); plain http
  only for an allowed internal address. Redirects are not followed; each call has a timeout.
- each of those fetches connects to the addresses its host was checked at (apps/core/pinning.py, as
  storage endpoints do), never to a second DNS answer: a name that answers an allowed address at
  the check and an internal one a moment later (DNS rebinding) still reaches the checked one. TLS
  SNI, certificate verification and the Host header keep the host name; no environment proxy.
- the discovery document must name the configured issuer exactly (OpenID Connect Discovery 4.3).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import FrameworkIntegration
from authlib.integrations.django_client import DjangoOAuth2App
from django.conf import settings
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError

from apps.accounts.errors import SsoFailed, SsoIssuerNotAllowed
from apps.accounts.models import SsoProvider
from apps.core.crypto import InvalidToken, fernet_decrypt
from apps.core.network import address_allowed
from apps.core.pinning import Pins, pinned_requests_session


def _allowed_networks():
    return [ipaddress.ip_network(net, strict=False) for net in settings.DEEPLENS_SSO_ALLOWED_NETWORKS]


def provider_url_check(
    url: str, *, field: str = "issuer", pins: dict[str, tuple[str, ...]] | None = None
) -> str:
    """The URL, if DeepLens may fetch it on a workspace's behalf; else SsoIssuerNotAllowed. The
    addresses its host resolved to are recorded in `pins`: the fetch connects to them."""
    refused = SsoIssuerNotAllowed(
        "DeepLens cannot use this identity provider address: it is not allowed for workspaces or does "
        "not resolve. An operator can allow an internal network with DEEPLENS_SSO_ALLOWED_NETWORKS.",
        extra={field: ["not_allowed"]},
    )
    parts = urlsplit(str(url or ""))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise refused
    if any(ch in url for ch in "\\ \t\r\n"):
        raise refused
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError) as exc:
        raise refused from exc
    networks = _allowed_networks()
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(address_allowed(a, allowed_networks=networks) for a in addresses):
        raise refused
    if parts.scheme == "http":
        # Plain http only inside an allowed internal network (a test or on-premises provider).
        internal = all(
            any(
                (ip := ipaddress.ip_address(a.split("%")[0])).version == n.version and ip in n
                for n in networks
            )
            for a in addresses
        )
        if not internal:
            raise refused
    if pins is not None:
        pins[parts.hostname.lower().rstrip(".")] = tuple(sorted(addresses))
    return url


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


class _Sessions(FrameworkIntegration):
    """Authlib keeps `state`, `nonce`, the PKCE verifier and the redirect URI in the Django session."""


class WorkspaceOidcApp(DjangoOAuth2App):
    """One provider's client: Authlib's, with the address rules, the pinned connections and the
    issuer check above. One instance serves one request: its pins are the checks it made."""

    def __init__(self, provider: SsoProvider):
        try:
            secret = (
                fernet_decrypt(provider.client_secret_encrypted) if provider.client_secret_encrypted else None
            )
        except InvalidToken as exc:
            raise SsoFailed(
                "The provider's client secret cannot be decrypted with the current DEEPLENS_STORAGE_KEY; "
                "an admin must enter it again.",
                code="sso_secret_unreadable",
            ) from exc
        self.provider = provider
        self._pins: dict[str, tuple[str, ...]] = {}
        super().__init__(
            _Sessions(f"sso-{provider.pk}"),
            name=f"sso-{provider.pk}",
            client_id=provider.client_id,
            client_secret=secret,
            server_metadata_url=discovery_url(provider.issuer),
            client_kwargs={
                "scope": provider.scopes,
                "code_challenge_method": "S256",
                "default_timeout": settings.DEEPLENS_SSO_HTTP_TIMEOUT_SECONDS,
            },
        )

    def _pinned(self, session):
        """No redirects, and connections only to the addresses checked so far (every fetch comes
        after the check of its URL: the discovery URL's, then the token endpoint's and the JWKS's)."""
        session.max_redirects = 0
        return pinned_requests_session(Pins(dict(self._pins)), session=session)

    def _get_session(self):
        return self._pinned(super()._get_session())

    def _get_oauth_client(self, **metadata):
        return self._pinned(super()._get_oauth_client(**metadata))

    def load_server_metadata(self):
        if "_loaded_at" not in self.server_metadata:
            provider_url_check(self._server_metadata_url or "", pins=self._pins)
            try:
                metadata = super().load_server_metadata()
            except (requests.RequestException, ValueError) as exc:
                raise SsoFailed(
                    "The identity provider could not be reached.", code="sso_provider_unreachable"
                ) from exc
            if metadata.get("issuer") != self.provider.issuer:
                raise SsoFailed(
                    "The provider's discovery document names another issuer than the one configured.",
                    code="sso_issuer_mismatch",
                    extra={
                        "configured": self.provider.issuer,
                        "discovered": str(metadata.get("issuer"))[:500],
                    },
                )
            for key in ("token_endpoint", "jwks_uri"):
                provider_url_check(str(metadata.get(key) or ""), field=key, pins=self._pins)
        return self.server_metadata

    def fetch_metadata(self) -> dict:
        """The discovery document (for the connection test of a configuration)."""
        return {k: v for k, v in self.load_server_metadata().items() if not k.startswith("_")}

    def callback_claims(self, request) -> dict:
        """The verified ID token claims of the provider's answer to our redirect, or SsoFailed with a
        code saying what was wrong."""
        try:
            token = self.authorize_access_token(
                request,
                claims_options={"iss": {"essential": True, "value": self.provider.issuer}},
                leeway=settings.DEEPLENS_SSO_CLOCK_SKEW_SECONDS,
            )
        except ExpiredTokenError as exc:
            raise SsoFailed("The provider's ID token has expired.", code="sso_id_token_expired") from exc
        except (InvalidClaimError, MissingClaimError) as exc:
            claim = getattr(exc, "claim", "")
            raise SsoFailed(
                f"The provider's ID token is not valid for this workspace ({claim or exc}).",
                code="sso_id_token_invalid",
                extra={"claim": claim},
            ) from exc
        except JoseError as exc:
            raise SsoFailed(
                "The provider's ID token could not be verified.", code="sso_id_token_invalid"
            ) from exc
        except AuthlibBaseError as exc:
            if exc.error == "mismatching_state":
                raise SsoFailed(
                    "This sign-in was not started here or was already used (state mismatch); start again.",
                    code="sso_state_invalid",
                ) from exc
            raise SsoFailed(
                f"The provider refused the sign-in: {exc.error} {exc.description or ''}".strip(),
                code="sso_provider_error",
            ) from exc
        except requests.RequestException as exc:
            raise SsoFailed(
                "The identity provider could not be reached.", code="sso_provider_unreachable"
            ) from exc
        claims = token.get("userinfo")
        if not claims:
            raise SsoFailed("The provider sent no ID token.", code="sso_id_token_invalid")
        return dict(claims)
