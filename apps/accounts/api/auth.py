"""POST /api/v1/auth/login, /refresh, /logout; GET /me; sessions; password change and reset."""

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import UserOutput
from apps.accounts.models import ApiKey
from apps.accounts.permissions import PUBLIC, Perm
from apps.accounts.principal import principal_permissions
from apps.accounts.selectors import session_list
from apps.accounts.services import (
    MfaPending,
    auth_login,
    auth_logout,
    auth_refresh,
    impersonation_stop,
    password_reset_confirm,
    password_reset_request,
    session_revoke,
    user_change_password,
)
from apps.audit.context import Actor
from apps.core.api import base_url
from apps.core.errors import NotFound
from apps.tenants.models import Tenant, TenantStatus


@method_decorator(never_cache, name="dispatch")
class LoginApi(APIView):
    """Sign in with {tenant, email, password}; a global admin leaves out `tenant`. An account with a
    second factor (or one its workspace requires) gets `{"mfa_required": true, "challenge", ...}`
    instead of tokens: finish with POST auth/login/mfa."""

    required_permission = PUBLIC
    authentication_classes = []

    class Input(serializers.Serializer):
        tenant = serializers.CharField(required=False, allow_blank=True, max_length=63)
        email = serializers.EmailField()
        password = serializers.CharField(max_length=512, trim_whitespace=False)

    @extend_schema(
        responses={
            200: PolymorphicProxySerializer(
                component_name="LoginAnswer",
                serializers=[
                    inline_serializer(
                        "LoginOutput",
                        {
                            "access": serializers.CharField(),
                            "refresh": serializers.CharField(),
                            "user": UserOutput(),
                        },
                    ),
                    inline_serializer(
                        "LoginMfaRequired",
                        {
                            "mfa_required": serializers.BooleanField(),
                            "challenge": serializers.CharField(help_text="for auth/login/mfa"),
                            "enrolment_required": serializers.BooleanField(
                                help_text="no authenticator yet: get one from auth/login/mfa/setup"
                            ),
                            "expires_in": serializers.IntegerField(help_text="seconds"),
                        },
                    ),
                ],
                resource_type_field_name=None,
            )
        }
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result = auth_login(
            tenant_slug=data.validated_data.get("tenant") or None,
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            actor=Actor.from_request(request),
        )
        if isinstance(result, MfaPending):
            return Response(
                {
                    "mfa_required": True,
                    "challenge": result.challenge,
                    "enrolment_required": result.enrolment_required,
                    "expires_in": result.expires_in,
                }
            )
        return Response(
            {"access": result.access, "refresh": result.refresh, "user": UserOutput(result.user).data}
        )


@method_decorator(never_cache, name="dispatch")
class RefreshApi(APIView):
    """Trade a refresh token for a new pair; the old refresh token is spent."""

    required_permission = PUBLIC
    authentication_classes = []

    class Input(serializers.Serializer):
        refresh = serializers.CharField(max_length=4096)

    @extend_schema(
        responses={
            200: inline_serializer(
                "TokenPair", {"access": serializers.CharField(), "refresh": serializers.CharField()}
            )
        }
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        access, refresh = auth_refresh(
            raw_refresh=data.validated_data["refresh"], actor=Actor.from_request(request)
        )
        return Response({"access": access, "refresh": refresh})


class LogoutApi(APIView):
    """End this token's session: its refresh tokens stop working and so does the access token. With
    an impersonation token, the impersonation ends."""

    required_permission = Perm.ACCOUNT_SELF

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        impersonation = getattr(request, "impersonation", None)
        if impersonation is not None:
            impersonation_stop(session=impersonation, actor=Actor.from_request(request))
            return Response(status=status.HTTP_204_NO_CONTENT)
        auth_logout(
            user=request.user,
            session_id=getattr(request, "token_session_id", None),
            actor=Actor.from_request(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    required_permission = Perm.AUTHENTICATED

    @extend_schema(
        responses={
            200: inline_serializer(
                "Me",
                {
                    "user": UserOutput(),
                    "tenant": serializers.JSONField(
                        allow_null=True, help_text="{id, slug, name, tier, status}"
                    ),
                    "permissions": serializers.ListField(child=serializers.CharField()),
                    "impersonator": serializers.JSONField(
                        allow_null=True, help_text="{id, email} while impersonated"
                    ),
                    "api_key": serializers.JSONField(
                        allow_null=True, help_text="{id, name, prefix, scopes} when called with a key"
                    ),
                },
            )
        }
    )
    def get(self, request):
        tenant = request.user.tenant
        key = request.auth if isinstance(request.auth, ApiKey) else None
        impersonator = getattr(request, "impersonator", None)
        return Response(
            {
                "user": UserOutput(request.user).data,
                "tenant": {
                    "id": str(tenant.pk),
                    "slug": tenant.slug,
                    "name": tenant.name,
                    "tier": tenant.tier,
                    "status": tenant.status,
                }
                if tenant
                else None,
                "permissions": sorted(principal_permissions(request)),
                "impersonator": {"id": str(impersonator.pk), "email": impersonator.email}
                if impersonator
                else None,
                "api_key": {"id": str(key.pk), "name": key.name, "prefix": key.prefix, "scopes": key.scopes}
                if key
                else None,
            }
        )


class SessionListApi(APIView):
    required_permission = Perm.ACCOUNT_SELF

    class Output(serializers.Serializer):
        id = serializers.UUIDField(source="family")
        created_at = serializers.DateTimeField()
        expires_at = serializers.DateTimeField()
        ip_address = serializers.IPAddressField(allow_null=True)
        user_agent = serializers.CharField()

    @extend_schema(
        responses={
            200: inline_serializer(
                "SessionList",
                {
                    "results": inline_serializer(
                        "Session",
                        {
                            "id": serializers.UUIDField(),
                            "created_at": serializers.DateTimeField(),
                            "expires_at": serializers.DateTimeField(),
                            "ip_address": serializers.IPAddressField(allow_null=True),
                            "user_agent": serializers.CharField(),
                            "current": serializers.BooleanField(),
                        },
                        many=True,
                    )
                },
            )
        }
    )
    def get(self, request):
        current = str(getattr(request, "token_session_id", "") or "")
        sessions = [
            {**self.Output(row).data, "current": str(row.family) == current}
            for row in session_list(user=request.user)
        ]
        return Response({"results": sessions})


class SessionRevokeApi(APIView):
    required_permission = Perm.ACCOUNT_SELF

    def delete(self, request, session_id):
        if not session_revoke(user=request.user, family=session_id, actor=Actor.from_request(request)):
            raise NotFound("No such active session.", code="session_not_found")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    required_permission = Perm.ACCOUNT_SELF

    class Input(serializers.Serializer):
        old_password = serializers.CharField(max_length=512, trim_whitespace=False)
        new_password = serializers.CharField(max_length=512, trim_whitespace=False)

    @extend_schema(responses={204: None})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user_change_password(
            user=request.user,
            actor=Actor.from_request(request),
            keep_session=getattr(request, "token_session_id", None),
            **data.validated_data,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(APIView):
    """Always 202: whether the account exists is not revealed."""

    required_permission = PUBLIC
    authentication_classes = []

    class Input(serializers.Serializer):
        tenant = serializers.CharField(required=False, allow_blank=True, max_length=63)
        email = serializers.EmailField()

    @extend_schema(
        responses={202: inline_serializer("PasswordResetAccepted", {"detail": serializers.CharField()})}
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        slug = data.validated_data.get("tenant")
        tenant = Tenant.objects.filter(slug=slug, status=TenantStatus.ACTIVE).first() if slug else None
        if tenant is not None or not slug:
            password_reset_request(
                tenant=tenant,
                email=data.validated_data["email"],
                actor=Actor.from_request(request),
                base_url=base_url(request, tenant),
            )
        return Response(
            {"detail": "If the account exists, a reset link has been emailed."},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmApi(APIView):
    required_permission = PUBLIC
    authentication_classes = []

    class Input(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)
        new_password = serializers.CharField(max_length=512, trim_whitespace=False)

    @extend_schema(responses={204: None})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset_confirm(actor=Actor.from_request(request), **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
