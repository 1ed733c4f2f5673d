"""Two-factor sign-in: TOTP enrolment, the login challenge over the API and in the browser, recovery
codes, throttling of codes, the workspace's policy and an administrator's reset."""

import re
import time

import pyotp
import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from apps.accounts.models import RecoveryCode, RefreshToken, Role, TotpDevice
from apps.accounts.services import mfa_setup_confirm, mfa_setup_start
from apps.audit.context import Actor
from apps.audit.models import AuditAction, AuditEvent
from apps.core.redis import get_redis
from tests.api import Api, as_user, host
from tests.conftest import tenant_client
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def _no_challenges_left():
    yield
    client = get_redis()
    keys = list(client.scan_iter("deeplens:mfa-challenge:*"))
    if keys:
        client.delete(*keys)


def enrol(user) -> tuple[pyotp.TOTP, list[str]]:
    """An authenticator in force for the user, and their recovery codes."""
    setup = mfa_setup_start(user=user)
    totp = pyotp.TOTP(setup.secret)
    codes = mfa_setup_confirm(user=user, code=totp.now(), actor=Actor(user=user))
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    """A code not yet used: the next time step's (accepted one step either side)."""
    return totp.at(time.time() + totp.interval)


def api_login(tenant, email):
    return Api(host()).post("auth/login", {"tenant": tenant.slug, "email": email, "password": PASSWORD})


def test_enrolling_over_the_api_needs_the_first_code_and_gives_ten_recovery_codes(users, alpha):
    member = users[Role.MEMBER]
    api = as_user(member)

    setup = api.post("auth/mfa/setup").json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    assert "issuer=DeepLens%20%28alpha%29" in setup["otpauth_uri"]
    wrong = api.post("auth/mfa/confirm", {"code": "000000"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "mfa_code_invalid"
    assert api.get("auth/mfa").json() == {"enabled": False, "required": False, "recovery_codes_left": 0}

    confirmed = api.post("auth/mfa/confirm", {"code": pyotp.TOTP(setup["secret"]).now()})

    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-f]{5}-[0-9a-f]{5}", code) for code in codes)
    assert api.get("auth/mfa").json() == {"enabled": True, "required": False, "recovery_codes_left": 10}
    assert AuditEvent.objects.filter(action=AuditAction.MFA_ENROLLED, target_id=str(member.pk)).count() == 1


def test_the_seed_and_the_recovery_codes_are_not_stored_in_the_clear(users):
    member = users[Role.MEMBER]
    totp, codes = enrol(member)

    device = TotpDevice.objects.get(user=member)
    assert totp.secret not in device.secret_encrypted
    stored = set(RecoveryCode.objects.filter(user=member).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not any(code.replace("-", "") in hashed for code in codes for hashed in stored)


def test_an_api_login_with_a_second_factor_answers_with_a_challenge_and_no_tokens(users, alpha):
    member = users[Role.MEMBER]
    totp, _codes = enrol(member)

    answer = api_login(alpha, member.email)

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"mfa_required", "challenge", "enrolment_required", "expires_in"}
    assert body["mfa_required"] is True
    assert body["enrolment_required"] is False
    assert body["expires_in"] == settings.DEEPLENS_MFA_CHALLENGE_SECONDS
    assert not RefreshToken.objects.filter(user=member).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, actor=member).exists()

    done = Api(host()).post("auth/login/mfa", {"challenge": body["challenge"], "code": next_code(totp)})

    assert done.status_code == 200
    assert done.json()["user"]["email"] == member.email
    assert "recovery_codes" not in done.json()
    me = Api(host(alpha), f"Bearer {done.json()['access']}").get("auth/me")
    assert me.status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_SUCCEEDED, actor=member)
    assert event.details == {"channel": "api", "factor": "totp"}
    # The challenge is spent.
    again = Api(host()).post("auth/login/mfa", {"challenge": body["challenge"], "code": next_code(totp)})
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "mfa_challenge_invalid"


def test_a_code_is_good_only_once(users, alpha):
    member = users[Role.MEMBER]
    totp, _codes = enrol(member)
    code = next_code(totp)
    first = api_login(alpha, member.email).json()["challenge"]
    assert Api(host()).post("auth/login/mfa", {"challenge": first, "code": code}).status_code == 200

    second = api_login(alpha, member.email).json()["challenge"]
    replay = Api(host()).post("auth/login/mfa", {"challenge": second, "code": code})

    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "mfa_code_invalid"


def test_a_recovery_code_signs_in_once(users, alpha):
    member = users[Role.MEMBER]
    _totp, codes = enrol(member)

    challenge = api_login(alpha, member.email).json()["challenge"]
    used = Api(host()).post("auth/login/mfa", {"challenge": challenge, "code": codes[3].upper()})
    assert used.status_code == 200
    assert AuditEvent.objects.get(action=AuditAction.LOGIN_SUCCEEDED, actor=member).details["factor"] == (
        "recovery_code"
    )
    assert RecoveryCode.objects.filter(user=member, used_at__isnull=True).count() == 9

    challenge = api_login(alpha, member.email).json()["challenge"]
    reused = Api(host()).post("auth/login/mfa", {"challenge": challenge, "code": codes[3]})
    assert reused.status_code == 401


def test_wrong_codes_are_audited_and_kill_the_challenge_after_the_limit(users, alpha):
    member = users[Role.MEMBER]
    totp, _codes = enrol(member)
    challenge = api_login(alpha, member.email).json()["challenge"]

    for _ in range(settings.DEEPLENS_MFA_CHALLENGE_MAX_ATTEMPTS):
        wrong = Api(host()).post("auth/login/mfa", {"challenge": challenge, "code": "123456"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "mfa_code_invalid"

    right = Api(host()).post("auth/login/mfa", {"challenge": challenge, "code": next_code(totp)})
    assert right.status_code == 401
    assert right.json()["error"]["code"] == "mfa_challenge_invalid"
    assert AuditEvent.objects.filter(action=AuditAction.MFA_FAILED, target_id=str(member.pk)).count() == 5
    assert not RefreshToken.objects.filter(user=member).exists()


@override_settings(DEEPLENS_LOGIN_MAX_FAILURES=3)
def test_wrong_codes_count_as_failed_sign_ins(users, alpha):
    member = users[Role.MEMBER]
    totp, _codes = enrol(member)
    for _ in range(3):
        challenge = api_login(alpha, member.email).json()["challenge"]
        Api(host()).post("auth/login/mfa", {"challenge": challenge, "code": "999999"})

    # The password is locked out like after three wrong passwords...
    assert api_login(alpha, member.email).status_code == 429
    # ...and so is a challenge already handed out, even with the right code.
    get_redis().delete(*get_redis().scan_iter("deeplens:login-failures:account-client:*"))
    challenge = api_login(alpha, member.email).json()["challenge"]
    for _ in range(3):
        Api(host()).post("auth/login/mfa", {"challenge": challenge, "code": "999999"})
    locked = Api(host()).post("auth/login/mfa", {"challenge": challenge, "code": next_code(totp)})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"
    assert not RefreshToken.objects.filter(user=member).exists()


def test_only_the_owner_sets_the_workspace_policy(users, alpha, beta):
    admin = as_user(users[Role.ADMIN])
    assert admin.get("settings/mfa-policy").status_code == 403
    assert admin.call("put", "settings/mfa-policy", {"mfa_required_for_admins": True}).status_code == 403
    # Credentials of alpha on beta's host.
    crossed = Api(host(beta), as_user(users[Role.OWNER]).headers["HTTP_AUTHORIZATION"])
    assert crossed.call("put", "settings/mfa-policy", {"mfa_required_for_admins": True}).status_code in (
        401,
        403,
    )
    beta.refresh_from_db()
    assert beta.mfa_required_for_admins is False

    owner = as_user(users[Role.OWNER])
    bad = owner.call("put", "settings/mfa-policy", {"mfa_required_for_admins": "maybe"})
    assert bad.status_code == 400
    response = owner.call("put", "settings/mfa-policy", {"mfa_required_for_admins": True})

    assert response.status_code == 200
    assert response.json() == {"mfa_required_for_admins": True}
    alpha.refresh_from_db()
    assert alpha.mfa_required_for_admins is True
    event = AuditEvent.objects.get(action=AuditAction.MFA_POLICY_CHANGED)
    assert event.details == {"mfa_required_for_admins": True}
    assert event.tenant_id == alpha.pk


def test_the_policy_makes_an_admin_enrol_at_api_sign_in_but_not_a_member(users, alpha):
    alpha.mfa_required_for_admins = True
    alpha.save(update_fields=["mfa_required_for_admins"])

    member = api_login(alpha, users[Role.MEMBER].email).json()
    assert "access" in member

    answer = api_login(alpha, users[Role.ADMIN].email).json()
    assert answer["mfa_required"] is True and answer["enrolment_required"] is True
    setup = Api(host()).post("auth/login/mfa/setup", {"challenge": answer["challenge"]}).json()
    # The same seed until it is confirmed.
    assert Api(host()).post("auth/login/mfa/setup", {"challenge": answer["challenge"]}).json() == setup
    done = Api(host()).post(
        "auth/login/mfa", {"challenge": answer["challenge"], "code": pyotp.TOTP(setup["secret"]).now()}
    )

    assert done.status_code == 200
    assert len(done.json()["recovery_codes"]) == 10
    assert "access" in done.json()
    assert TotpDevice.objects.get(user=users[Role.ADMIN]).confirmed_at is not None
    assert AuditEvent.objects.get(action=AuditAction.MFA_ENROLLED).actor_id == users[Role.ADMIN].pk
    # Turning it off is refused while the policy requires it.
    refused = as_user(users[Role.ADMIN]).post("auth/mfa/disable", {"code": done.json()["recovery_codes"][0]})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "mfa_required_by_policy"
    assert TotpDevice.objects.filter(user=users[Role.ADMIN]).exists()


def test_a_setup_for_an_enrolled_challenge_is_refused(users, alpha):
    enrol(users[Role.MEMBER])
    challenge = api_login(alpha, users[Role.MEMBER].email).json()["challenge"]

    response = Api(host()).post("auth/login/mfa/setup", {"challenge": challenge})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "mfa_already_enabled"


def test_turning_it_off_needs_a_code(users, alpha):
    member = users[Role.MEMBER]
    totp, _codes = enrol(member)
    api = as_user(member)

    assert api.post("auth/mfa/disable", {"code": "000000"}).status_code == 401
    assert TotpDevice.objects.filter(user=member).exists()
    assert api.post("auth/mfa/disable", {"code": next_code(totp)}).status_code == 204

    assert not TotpDevice.objects.filter(user=member).exists()
    assert not RecoveryCode.objects.filter(user=member).exists()
    assert "access" in api_login(alpha, member.email).json()
    assert AuditEvent.objects.filter(action=AuditAction.MFA_DISABLED, target_id=str(member.pk)).count() == 1


def test_regenerating_recovery_codes_voids_the_old_ones(users):
    member = users[Role.MEMBER]
    totp, old = enrol(member)

    new = as_user(member).post("auth/mfa/recovery-codes", {"code": next_code(totp)}).json()["recovery_codes"]

    assert len(new) == 10 and not set(new) & set(old)
    assert RecoveryCode.objects.filter(user=member).count() == 10
    assert AuditEvent.objects.filter(action=AuditAction.MFA_RECOVERY_CODES_REGENERATED).count() == 1


def test_an_api_key_cannot_touch_the_second_factor(users, alpha):
    from tests.api import api_key_for

    key = api_key_for(tenant=alpha, creator=users[Role.OWNER], scopes=["admin"])
    assert Api(host(alpha), key).post("auth/mfa/setup").status_code == 403
    assert not TotpDevice.objects.exists()


# --- the browser ---------------------------------------------------------------------------------


def test_the_page_sign_in_asks_for_the_code_before_signing_in(users, alpha):
    member = users[Role.MEMBER]
    totp, _codes = enrol(member)
    browser = tenant_client(alpha)

    password = browser.post(
        "/accounts/login/?next=/images/", {"username": member.email, "password": PASSWORD}
    )

    assert password.status_code == 302
    assert password["Location"] == "/accounts/login/mfa/"
    assert "_auth_user_id" not in browser.session
    assert browser.get("/images/").status_code == 302
    page = browser.get("/accounts/login/mfa/")
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.content.decode()

    wrong = browser.post("/accounts/login/mfa/", {"code": "000000"})
    assert wrong.status_code == 400
    assert "That code is not valid." in wrong.content.decode()
    assert "_auth_user_id" not in browser.session

    right = browser.post("/accounts/login/mfa/", {"code": next_code(totp)})
    assert right.status_code == 302
    assert right["Location"] == "/images/"
    assert browser.session["_auth_user_id"] == str(member.pk)
    assert AuditEvent.objects.get(action=AuditAction.LOGIN_SUCCEEDED, actor=member).details == {
        "channel": "browser",
        "factor": "totp",
    }


def test_the_code_page_without_a_pending_sign_in_goes_back_to_sign_in(alpha):
    response = tenant_client(alpha).post("/accounts/login/mfa/", {"code": "123456"})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"


def test_a_pending_sign_in_of_one_workspace_does_not_sign_in_on_another(users, alpha, beta):
    member = users[Role.MEMBER]
    totp, _codes = enrol(member)
    browser = tenant_client(alpha)
    browser.post("/accounts/login/", {"username": member.email, "password": PASSWORD})
    # The same session cookie presented to beta's host.
    other = tenant_client(beta)
    other.cookies = browser.cookies

    response = other.post("/accounts/login/mfa/", {"code": next_code(totp)})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in other.session


def test_the_policy_makes_an_admin_enrol_at_page_sign_in(users, alpha):
    alpha.mfa_required_for_admins = True
    alpha.save(update_fields=["mfa_required_for_admins"])
    owner = users[Role.OWNER]
    browser = tenant_client(alpha)

    assert browser.post("/accounts/login/", {"username": owner.email, "password": PASSWORD})["Location"] == (
        "/accounts/login/mfa/"
    )
    page = browser.get("/accounts/login/mfa/").content.decode()
    assert "<svg" in page
    secret = re.search(r'data-testid="mfa-secret">([A-Z2-7]+)<', page).group(1)

    done = browser.post("/accounts/login/mfa/", {"code": pyotp.TOTP(secret).now()})

    assert done.status_code == 200
    assert len(re.findall(r'data-testid="recovery-code"', done.content.decode())) == 10
    assert browser.session["_auth_user_id"] == str(owner.pk)


def test_enrolling_from_the_profile_page(users, alpha):
    from tests.conftest import signed_in

    member = users[Role.MEMBER]
    browser = signed_in(alpha, member.email)

    started = browser.post("/accounts/profile/", {"action": "mfa_setup"})
    assert started.status_code == 200
    secret = re.search(r'data-testid="mfa-secret">([A-Z2-7]+)<', started.content.decode()).group(1)
    wrong = browser.post("/accounts/profile/", {"action": "mfa_confirm", "code": "000000"})
    assert wrong.status_code == 400
    assert secret in wrong.content.decode()  # the same seed, to try again

    done = browser.post("/accounts/profile/", {"action": "mfa_confirm", "code": pyotp.TOTP(secret).now()})

    assert done.status_code == 200
    assert len(re.findall(r'data-testid="recovery-code"', done.content.decode())) == 10
    assert "On. 10 recovery codes left." in browser.get("/accounts/profile/").content.decode()


# --- the admin site -----------------------------------------------------------------------------


def test_a_global_admin_with_a_second_factor_gives_it_at_the_admin_sign_in(users, public_client):
    root = users["global"]
    totp, _codes = enrol(root)

    password = public_client.post(
        "/admin/login/?next=/admin/", {"username": root.email, "password": PASSWORD}
    )
    assert password["Location"] == "/admin/login/mfa/"
    assert public_client.get("/admin/").status_code == 302

    done = public_client.post("/admin/login/mfa/", {"code": next_code(totp)})

    assert done["Location"] == "/admin/"
    assert public_client.get("/admin/").status_code == 200


def test_a_global_admin_resets_a_lost_second_factor_from_the_admin(users, alpha, public_client):
    member = users[Role.MEMBER]
    enrol(member)
    as_user(member)  # an API session, ended by the reset
    public_client.post("/admin/login/?next=/admin/", {"username": "root@deeplens.test", "password": PASSWORD})

    public_client.post(
        "/admin/accounts/user/", {"action": "reset_second_factor", "_selected_action": [str(member.pk)]}
    )

    assert not TotpDevice.objects.filter(user=member).exists()
    assert not RecoveryCode.objects.filter(user=member).exists()
    assert not RefreshToken.objects.filter(user=member, revoked_at__isnull=True).exists()
    event = AuditEvent.objects.get(action=AuditAction.MFA_RESET)
    assert event.actor_email == "root@deeplens.test"
    assert event.target_id == str(member.pk)
    assert event.tenant_id == alpha.pk
    assert "access" in api_login(alpha, member.email).json()
    connection.set_schema_to_public()
