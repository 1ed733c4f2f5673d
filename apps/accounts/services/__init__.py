"""Writes of the accounts domain: users, passwords, sign-in sessions, API keys, impersonation."""

from apps.accounts.services.api_keys import api_key_create, api_key_revoke
from apps.accounts.services.attempts import login_attempt_record
from apps.accounts.services.impersonation import (
    impersonation_accept_handoff,
    impersonation_access_token,
    impersonation_handoff_token,
    impersonation_start,
    impersonation_stop,
)
from apps.accounts.services.mfa import (
    MfaPending,
    mfa_challenge_complete,
    mfa_challenge_setup,
    mfa_challenge_state,
    mfa_disable,
    mfa_pending_for,
    mfa_recovery_codes_regenerate,
    mfa_reset,
    mfa_setup_confirm,
    mfa_setup_start,
    tenant_mfa_policy_set,
)
from apps.accounts.services.sessions import (
    LoginResult,
    auth_login,
    auth_login_mfa_complete,
    auth_logout,
    auth_refresh,
    session_revoke,
    sessions_revoke_all,
)
from apps.accounts.services.users import (
    password_reset_confirm,
    password_reset_request,
    user_change_password,
    user_create,
    user_delete,
    user_ensure,
    user_update,
)

__all__ = [
    "LoginResult",
    "MfaPending",
    "api_key_create",
    "api_key_revoke",
    "auth_login",
    "auth_login_mfa_complete",
    "auth_logout",
    "auth_refresh",
    "impersonation_accept_handoff",
    "impersonation_access_token",
    "impersonation_handoff_token",
    "impersonation_start",
    "impersonation_stop",
    "login_attempt_record",
    "mfa_challenge_complete",
    "mfa_challenge_setup",
    "mfa_challenge_state",
    "mfa_disable",
    "mfa_pending_for",
    "mfa_recovery_codes_regenerate",
    "mfa_reset",
    "mfa_setup_confirm",
    "mfa_setup_start",
    "password_reset_confirm",
    "password_reset_request",
    "session_revoke",
    "sessions_revoke_all",
    "tenant_mfa_policy_set",
    "user_change_password",
    "user_create",
    "user_delete",
    "user_ensure",
    "user_update",
]
