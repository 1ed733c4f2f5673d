"""Writes of the accounts domain: users, passwords, sign-in sessions, API keys, impersonation."""

from apps.accounts.services.api_keys import api_key_create, api_key_revoke
from apps.accounts.services.impersonation import (
    impersonation_accept_handoff,
    impersonation_access_token,
    impersonation_handoff_token,
    impersonation_start,
    impersonation_stop,
)
from apps.accounts.services.sessions import (
    LoginResult,
    auth_login,
    auth_logout,
    auth_refresh,
    login_attempt_record,
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
    "api_key_create",
    "api_key_revoke",
    "auth_login",
    "auth_logout",
    "auth_refresh",
    "impersonation_accept_handoff",
    "impersonation_access_token",
    "impersonation_handoff_token",
    "impersonation_start",
    "impersonation_stop",
    "login_attempt_record",
    "password_reset_confirm",
    "password_reset_request",
    "session_revoke",
    "sessions_revoke_all",
    "user_change_password",
    "user_create",
    "user_delete",
    "user_ensure",
    "user_update",
]
