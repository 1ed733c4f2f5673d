"""POST /api/v1/admin/impersonate {user_id, reason} and POST /api/v1/admin/impersonate/stop."""

from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import UserOutput
from apps.accounts.models import ImpersonationSession
from apps.accounts.permissions import Perm
from apps.accounts.selectors import user_get_any
from apps.accounts.services import impersonation_access_token, impersonation_start, impersonation_stop
from apps.audit.context import Actor
from apps.core.errors import InvalidInput, NotFound


@method_decorator(never_cache, name="dispatch")
class ImpersonateApi(APIView):
    """A short-lived access token for the user, carrying the admin in its `act` claim; no refresh."""

    required_permission = Perm.PLATFORM_ADMIN

    class Input(serializers.Serializer):
        user_id = serializers.UUIDField()
        reason = serializers.CharField(max_length=500)

    @extend_schema(
        responses={
            201: inline_serializer(
                "ImpersonationStarted",
                {
                    "access": serializers.CharField(),
                    "expires_at": serializers.DateTimeField(),
                    "expires_in": serializers.IntegerField(),
                    "user": UserOutput(),
                    "impersonator": serializers.JSONField(help_text="{id, email}"),
                    "session_id": serializers.UUIDField(),
                },
            )
        }
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        target = user_get_any(user_id=data.validated_data["user_id"])
        if target is None:
            raise NotFound("No such user.", code="user_not_found")
        session = impersonation_start(
            impersonator=request.user,
            target=target,
            reason=data.validated_data["reason"],
            channel=ImpersonationSession.Channel.API,
            actor=Actor.from_request(request),
        )
        return Response(
            {
                "access": impersonation_access_token(session),
                "expires_at": session.expires_at,
                "expires_in": int((session.expires_at - timezone.now()).total_seconds()),
                "user": UserOutput(target).data,
                "impersonator": {"id": str(request.user.pk), "email": request.user.email},
                "session_id": str(session.pk),
            },
            status=status.HTTP_201_CREATED,
        )


class ImpersonateStopApi(APIView):
    """Called with the impersonation token; it stops working at once."""

    required_permission = Perm.AUTHENTICATED

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        session = getattr(request, "impersonation", None)
        if session is None:
            raise InvalidInput("This credential is not an impersonation.", code="not_impersonating")
        impersonation_stop(session=session, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
