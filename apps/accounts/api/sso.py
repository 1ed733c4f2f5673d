"""Single sign-on over the API: a workspace's identity providers and SSO policy (its admins and
owner), and the token exchange that ends an API client's browser sign-in."""

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import UserOutput
from apps.accounts.models import TENANT_ROLES
from apps.accounts.permissions import PUBLIC, Perm
from apps.accounts.selectors import sso_provider_get, sso_provider_list
from apps.accounts.services import MfaPending
from apps.accounts.services.sessions import auth_sso_token
from apps.accounts.services.sso import (
    sso_policy_get,
    sso_policy_set,
    sso_provider_create,
    sso_provider_delete,
    sso_provider_update,
)
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.errors import NotFound


class ProviderOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.SlugField()
    name = serializers.CharField()
    issuer = serializers.URLField()
    client_id = serializers.CharField()
    client_secret_set = serializers.SerializerMethodField()
    scopes = serializers.CharField()
    allowed_domains = serializers.ListField(child=serializers.CharField())
    default_role = serializers.CharField()
    role_claim = serializers.CharField()
    role_mapping = serializers.DictField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    start_url = serializers.SerializerMethodField()
    callback_url = serializers.SerializerMethodField()

    def get_client_secret_set(self, provider) -> bool:
        return bool(provider.client_secret_encrypted)

    def get_start_url(self, provider) -> str:
        return f"/accounts/sso/{provider.slug}/start/"

    def get_callback_url(self, provider) -> str:
        """Register this (on the workspace's host) as the redirect URI at the provider."""
        return f"/accounts/sso/{provider.slug}/callback/"


class ProviderInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=100)
    issuer = serializers.URLField(
        max_length=500, help_text="e.g. https://login.microsoftonline.com/<tenant>/v2.0"
    )
    client_id = serializers.CharField(max_length=255)
    client_secret = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, write_only=True, trim_whitespace=False
    )
    scopes = serializers.CharField(max_length=200, required=False)
    allowed_domains = serializers.ListField(
        child=serializers.CharField(max_length=253), required=False, max_length=100
    )
    default_role = serializers.ChoiceField(choices=TENANT_ROLES, required=False)
    role_claim = serializers.CharField(max_length=100, required=False, allow_blank=True)
    role_mapping = serializers.DictField(child=serializers.ChoiceField(choices=TENANT_ROLES), required=False)
    is_active = serializers.BooleanField(required=False)


def _provider_or_404(request, provider_id):
    provider = sso_provider_get(tenant=request_tenant(request), provider_id=provider_id)
    if provider is None:
        raise NotFound("No such identity provider in this workspace.", code="sso_provider_not_found")
    return provider


# Owners only: whoever points the workspace at an identity provider decides who signs in as whom
# (an admin with their own provider could sign in as the owner).
class SsoProviderListApi(APIView):
    required_permission = Perm.TENANT_SETTINGS

    @extend_schema(responses={200: ProviderOutput(many=True)})
    def get(self, request):
        return Response(ProviderOutput(sso_provider_list(tenant=request_tenant(request)), many=True).data)

    @extend_schema(request=ProviderInput, responses={201: ProviderOutput})
    def post(self, request):
        data = ProviderInput(data=request.data)
        data.is_valid(raise_exception=True)
        provider = sso_provider_create(
            tenant=request_tenant(request), actor=Actor.from_request(request), **data.validated_data
        )
        return Response(ProviderOutput(provider).data, status=status.HTTP_201_CREATED)


class SsoProviderDetailApi(APIView):
    required_permission = Perm.TENANT_SETTINGS

    @extend_schema(responses={200: ProviderOutput})
    def get(self, request, provider_id):
        return Response(ProviderOutput(_provider_or_404(request, provider_id)).data)

    @extend_schema(request=ProviderInput(partial=True), responses={200: ProviderOutput})
    def patch(self, request, provider_id):
        provider = _provider_or_404(request, provider_id)
        data = ProviderInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        provider = sso_provider_update(
            provider=provider, actor=Actor.from_request(request), **data.validated_data
        )
        return Response(ProviderOutput(provider).data)

    @extend_schema(responses={204: None})
    def delete(self, request, provider_id):
        sso_provider_delete(
            provider=_provider_or_404(request, provider_id), actor=Actor.from_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SsoPolicyApi(APIView):
    """SSO required: passwords stop working for everyone of the workspace but the break-glass owner."""

    required_permission = Perm.TENANT_SETTINGS

    class Input(serializers.Serializer):
        sso_required = serializers.BooleanField()
        break_glass_user_id = serializers.UUIDField(required=False, allow_null=True)

    Output = inline_serializer(
        "SsoPolicy",
        {
            "sso_required": serializers.BooleanField(),
            "break_glass_user_id": serializers.UUIDField(allow_null=True),
        },
    )

    def _out(self, policy) -> dict:
        return {
            "sso_required": policy.sso_required,
            "break_glass_user_id": str(policy.break_glass_user_id) if policy.break_glass_user_id else None,
        }

    @extend_schema(responses={200: Output})
    def get(self, request):
        return Response(self._out(sso_policy_get(tenant=request_tenant(request))))

    @extend_schema(responses={200: Output})
    def put(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        policy = sso_policy_set(
            tenant=request_tenant(request),
            sso_required=data.validated_data["sso_required"],
            break_glass_user_id=data.validated_data.get("break_glass_user_id"),
            actor=Actor.from_request(request),
        )
        return Response(self._out(policy))


@method_decorator(never_cache, name="dispatch")
class SsoTokenApi(APIView):
    """The end of an API client's SSO sign-in: the one-time `code` DeepLens sent to the client's
    loopback redirect_uri and the PKCE `code_verifier` of the `code_challenge` it started with. The
    answer is the usual token pair, or `mfa_required` with a challenge for auth/login/mfa."""

    required_permission = PUBLIC
    authentication_classes = []

    class Input(serializers.Serializer):
        code = serializers.CharField(max_length=128)
        code_verifier = serializers.CharField(min_length=43, max_length=128)

    @extend_schema(
        responses={
            200: PolymorphicProxySerializer(
                component_name="SsoTokenAnswer",
                serializers=[
                    inline_serializer(
                        "SsoTokenOutput",
                        {
                            "access": serializers.CharField(),
                            "refresh": serializers.CharField(),
                            "user": UserOutput(),
                        },
                    ),
                    inline_serializer(
                        "SsoTokenMfaRequired",
                        {
                            "mfa_required": serializers.BooleanField(),
                            "challenge": serializers.CharField(),
                            "enrolment_required": serializers.BooleanField(),
                            "expires_in": serializers.IntegerField(),
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
        tenant = getattr(request, "tenant", None)
        result = auth_sso_token(
            code=data.validated_data["code"],
            code_verifier=data.validated_data["code_verifier"],
            tenant=tenant if tenant is not None and tenant.schema_name != "public" else None,
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
