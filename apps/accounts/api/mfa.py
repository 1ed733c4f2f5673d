"""Two-factor authentication over the API: the second step of sign-in, a person's own authenticator
and recovery codes, and the workspace's policy."""

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import UserOutput
from apps.accounts.permissions import PUBLIC, Perm
from apps.accounts.services import (
    auth_login_mfa_complete,
    mfa_challenge_setup,
    mfa_disable,
    mfa_recovery_codes_regenerate,
    mfa_setup_confirm,
    mfa_setup_start,
    tenant_mfa_policy_set,
)
from apps.accounts.services.mfa import mfa_enabled, mfa_required_by_policy, recovery_codes_left
from apps.audit.context import Actor
from apps.core.errors import PermissionDenied

CODE_HELP = "A 6-digit authenticator code, or one of the recovery codes (xxxxx-xxxxx)."

TotpSetupOutput = inline_serializer(
    "TotpSetup",
    {
        "secret": serializers.CharField(help_text="base32 seed, for typing into the app"),
        "otpauth_uri": serializers.CharField(help_text="otpauth:// URI, for a QR code"),
    },
)


@method_decorator(never_cache, name="dispatch")
class LoginMfaApi(APIView):
    """The second step of a sign-in that answered `mfa_required`: the challenge and a code. Where the
    sign-in had to enrol (`enrolment_required`), call auth/login/mfa/setup first and send the new
    authenticator's first code; the answer then carries the recovery codes, shown once."""

    required_permission = PUBLIC
    authentication_classes = []

    class Input(serializers.Serializer):
        challenge = serializers.CharField(max_length=128)
        code = serializers.CharField(max_length=32, help_text=CODE_HELP)

    @extend_schema(
        responses={
            200: inline_serializer(
                "LoginMfaOutput",
                {
                    "access": serializers.CharField(),
                    "refresh": serializers.CharField(),
                    "user": UserOutput(),
                    "recovery_codes": serializers.ListField(
                        child=serializers.CharField(), required=False, help_text="only after enrolment"
                    ),
                },
            )
        }
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result, recovery_codes = auth_login_mfa_complete(
            challenge=data.validated_data["challenge"],
            code=data.validated_data["code"],
            actor=Actor.from_request(request),
        )
        body = {"access": result.access, "refresh": result.refresh, "user": UserOutput(result.user).data}
        if recovery_codes is not None:
            body["recovery_codes"] = recovery_codes
        return Response(body)


@method_decorator(never_cache, name="dispatch")
class LoginMfaSetupApi(APIView):
    """For a sign-in with `enrolment_required`: the authenticator seed to add to an app (the same seed
    until its first code is accepted)."""

    required_permission = PUBLIC
    authentication_classes = []

    class Input(serializers.Serializer):
        challenge = serializers.CharField(max_length=128)

    @extend_schema(responses={200: TotpSetupOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        setup = mfa_challenge_setup(challenge=data.validated_data["challenge"])
        return Response({"secret": setup.secret, "otpauth_uri": setup.otpauth_uri})


def _own_account(request) -> None:
    if getattr(request, "impersonation", None) is not None:
        raise PermissionDenied(
            "An impersonator cannot change the person's second factor.", code="impersonation_forbidden"
        )


class MfaStatusApi(APIView):
    required_permission = Perm.ACCOUNT_SELF

    @extend_schema(
        responses={
            200: inline_serializer(
                "MfaStatus",
                {
                    "enabled": serializers.BooleanField(),
                    "required": serializers.BooleanField(help_text="the workspace requires it for you"),
                    "recovery_codes_left": serializers.IntegerField(),
                },
            )
        }
    )
    def get(self, request):
        return Response(
            {
                "enabled": mfa_enabled(request.user),
                "required": mfa_required_by_policy(request.user),
                "recovery_codes_left": recovery_codes_left(request.user),
            }
        )


class MfaSetupApi(APIView):
    """Start adding an authenticator: a fresh seed, in force once auth/mfa/confirm gets its code."""

    required_permission = Perm.ACCOUNT_SELF

    @extend_schema(request=None, responses={200: TotpSetupOutput})
    def post(self, request):
        _own_account(request)
        setup = mfa_setup_start(user=request.user)
        return Response({"secret": setup.secret, "otpauth_uri": setup.otpauth_uri})


RecoveryCodesOutput = inline_serializer(
    "RecoveryCodes", {"recovery_codes": serializers.ListField(child=serializers.CharField())}
)


class MfaConfirmApi(APIView):
    required_permission = Perm.ACCOUNT_SELF

    class Input(serializers.Serializer):
        code = serializers.CharField(max_length=32, help_text="the authenticator's current code")

    @extend_schema(responses={200: RecoveryCodesOutput})
    def post(self, request):
        _own_account(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        codes = mfa_setup_confirm(
            user=request.user, code=data.validated_data["code"], actor=Actor.from_request(request)
        )
        return Response({"recovery_codes": codes})


class MfaDisableApi(APIView):
    required_permission = Perm.ACCOUNT_SELF

    class Input(serializers.Serializer):
        code = serializers.CharField(max_length=32, help_text=CODE_HELP)

    @extend_schema(responses={204: None})
    def post(self, request):
        _own_account(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        mfa_disable(user=request.user, code=data.validated_data["code"], actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MfaRecoveryCodesApi(APIView):
    """New recovery codes (the old ones stop working), shown once."""

    required_permission = Perm.ACCOUNT_SELF

    class Input(serializers.Serializer):
        code = serializers.CharField(max_length=32, help_text=CODE_HELP)

    @extend_schema(responses={200: RecoveryCodesOutput})
    def post(self, request):
        _own_account(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        codes = mfa_recovery_codes_regenerate(
            user=request.user, code=data.validated_data["code"], actor=Actor.from_request(request)
        )
        return Response({"recovery_codes": codes})


class MfaPolicyApi(APIView):
    """Whether the workspace's admins and owners must sign in with a second factor."""

    required_permission = Perm.TENANT_SETTINGS

    class Input(serializers.Serializer):
        mfa_required_for_admins = serializers.BooleanField()

    PolicyOutput = inline_serializer("MfaPolicy", {"mfa_required_for_admins": serializers.BooleanField()})

    @extend_schema(responses={200: PolicyOutput})
    def get(self, request):
        return Response({"mfa_required_for_admins": request.tenant.mfa_required_for_admins})

    @extend_schema(responses={200: PolicyOutput})
    def put(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = tenant_mfa_policy_set(
            tenant=request.tenant,
            required_for_admins=data.validated_data["mfa_required_for_admins"],
            actor=Actor.from_request(request),
        )
        return Response({"mfa_required_for_admins": tenant.mfa_required_for_admins})
