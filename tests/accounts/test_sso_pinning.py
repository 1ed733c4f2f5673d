"""Single sign-on's own fetches (the discovery document, the token endpoint, the JWKS) connect to the
addresses their host was checked at, as storage clients do (tests/storage/test_pinning.py): DNS
rebinding between the check and the connection reaches nothing else.

The resolver is the machine boundary, so it is the one thing replaced: the provider's host name
answers 127.0.0.1 (allowed here, where the real provider listens) while DeepLens checks it, and
127.0.0.2 (not allowed: a fake "internal" service on the same port) at any other time. The person's
browser has its own resolver, which answers the provider. A whole sign-in must reach the real
provider, and the fake must see no connection."""

import socket
from contextlib import contextmanager

import pytest
from django.conf import settings

from apps.accounts.models import Role, SsoIdentity, SsoProvider, User
from apps.accounts.services import sso as sso_services
from apps.accounts.services.sso import sso_provider_create
from apps.accounts.sso import client
from apps.audit.context import Actor
from deeplens.embedded import free_port
from tests.conftest import tenant_client
from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, OpenIdProvider, sign_in_at_provider
from tests.support.listeners import InternalService

HOST = "op.rebind.test"
CALLBACK = f"http://alpha.{settings.DEEPLENS_BASE_DOMAIN}/accounts/sso/rebind/callback/"


class RebindingResolver:
    def __init__(self, original):
        self.original = original
        self.answer = "127.0.0.2"
        self.recording = True
        self.asked: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        if isinstance(host, str) and host.rstrip(".").lower() == HOST:
            if self.recording:
                self.asked.append(self.answer)
            return self.original(self.answer, port, *args, **kwargs)
        return self.original(host, port, *args, **kwargs)

    @contextmanager
    def answering_the_provider(self, *, recording: bool = True):
        self.answer, self.recording = "127.0.0.1", recording
        try:
            yield
        finally:
            self.answer, self.recording = "127.0.0.2", True


@pytest.fixture(scope="module")
def op(tmp_path_factory):
    provider = OpenIdProvider(redirect_uris=[CALLBACK], host=HOST)
    provider.start(tmp_path_factory.mktemp("op-rebind"))
    yield provider
    provider.stop()


@pytest.fixture
def resolver(monkeypatch, settings):
    """The rebinding resolver, and the number of checks DeepLens made (the only moments it answers
    the provider to DeepLens)."""
    settings.DEEPLENS_SSO_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    fake = RebindingResolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    checks: list[str] = []
    real_check = client.provider_url_check

    def check(url, **kwargs):
        checks.append(url)
        with fake.answering_the_provider():
            return real_check(url, **kwargs)

    monkeypatch.setattr(client, "provider_url_check", check)
    monkeypatch.setattr(sso_services, "provider_url_check", check)
    return fake, checks


@pytest.fixture
def internal(op):
    service = InternalService(op.port)
    yield service
    service.close()


def test_a_sign_in_keeps_connecting_to_the_checked_provider(alpha, op, resolver, internal):
    fake_dns, checks = resolver
    provider: SsoProvider = sso_provider_create(
        tenant=alpha,
        actor=Actor.system(),
        slug="rebind",
        name="Rebind ID",
        issuer=op.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        allowed_domains=["acme.test"],
        default_role=Role.MEMBER,
    )
    browser = tenant_client(alpha)

    start = browser.get("/accounts/sso/rebind/start/?next=/images/")
    assert start.status_code == 302, start.content[:300]
    assert start["Location"].startswith(f"http://{HOST}:{op.port}/")
    with fake_dns.answering_the_provider(recording=False):
        back = sign_in_at_provider(start["Location"], "bob@acme.test", stop_at=CALLBACK)
    callback = browser.get(back.removeprefix(f"http://alpha.{settings.DEEPLENS_BASE_DOMAIN}"))

    assert callback.status_code == 302, callback.content[:500]
    assert callback["Location"] == "/images/"
    bob = User.objects.get(tenant=alpha, email="bob@acme.test")
    assert browser.session["_auth_user_id"] == str(bob.pk)
    assert SsoIdentity.objects.get(user=bob, provider=provider).subject == "bob@acme.test"
    discovery = f"{op.issuer}/.well-known/openid-configuration"
    fetched = [discovery, f"{op.issuer}/token", f"{op.issuer}/jwks"]
    assert checks == [op.issuer, *fetched, *fetched]  # saved; the start; the callback
    assert fake_dns.asked == ["127.0.0.1"] * len(checks)  # no lookup outside a check
    assert internal.connections == 0


def test_a_fetch_from_a_host_that_was_not_checked_is_not_made(alpha, op, resolver, internal):
    """The pinned session knows only the hosts checked so far: nothing reaches the rebound name
    before its check (here: the discovery document's host, asked for without a check)."""
    from requests.exceptions import ConnectionError as RequestsConnectionError

    fake_dns, _ = resolver
    provider = SsoProvider(tenant=alpha, slug="unchecked", issuer=op.issuer, client_id=CLIENT_ID)
    app = client.WorkspaceOidcApp(provider)

    with pytest.raises(RequestsConnectionError), app._get_session() as session:
        session.request("GET", f"{op.issuer}/.well-known/openid-configuration", withhold_token=True)

    assert fake_dns.asked == []
    assert internal.connections == 0


def test_a_provider_that_cannot_be_reached_is_a_clear_refusal(alpha, settings):
    """What a sign-in gets when the checked address does not answer (nothing listens there)."""
    settings.DEEPLENS_SSO_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    sso_provider_create(
        tenant=alpha,
        actor=Actor.system(),
        slug="gone",
        name="Gone ID",
        issuer=f"http://127.0.0.1:{free_port()}",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )

    response = tenant_client(alpha).get("/accounts/sso/gone/start/")

    assert response.status_code == 403
    assert "code: sso_provider_unreachable" in response.content.decode()
