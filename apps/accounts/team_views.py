"""Tenant admin pages: the team (users) and API keys."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from apps.accounts.filters import UserFilter
from apps.accounts.forms import ROLE_CHOICES, ApiKeyCreateForm, UserChangeForm, UserCreateForm
from apps.accounts.models import User
from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import ASSIGNABLE_ROLES, Perm
from apps.accounts.selectors import api_key_get, api_key_list, user_count_by_role, user_get, user_list
from apps.accounts.services import api_key_create, api_key_revoke, user_create, user_delete, user_update
from apps.audit.context import Actor
from apps.core.api import base_url
from apps.core.errors import ApplicationError
from apps.core.filtering import FilterErrors, InvalidFilter


def grantable_roles(request) -> list[tuple[str, str]]:
    """The roles this person may hand out: the Team page offers no role it would then refuse."""
    allowed = ASSIGNABLE_ROLES.get(request.user.role, frozenset())
    return [(value, label) for value, label in ROLE_CHOICES if value in allowed]


def _offering(form, request):
    form.fields["role"].choices = grantable_roles(request)
    return form


class UserListPage(PermissionRequiredPage, View):
    required_permission = Perm.USERS_MANAGE
    template_name = "accounts/team.html"

    def get(self, request, form=None, status=200):
        # The page's search box is `q`; UserFilter calls it `search`.
        users: QuerySet[User] | list[User]
        try:
            users = user_list(tenant=request.tenant, filters={"search": request.GET.get("q", "")})
            errors = FilterErrors()
        except InvalidFilter as exc:
            users, errors, status = [], FilterErrors.from_exception(exc, UserFilter), 400
        page = Paginator(users, 50).get_page(request.GET.get("page"))
        return render(
            request,
            self.template_name,
            {
                "page": page,
                "form": _offering(form or UserCreateForm(), request),
                "query": request.GET.get("q", ""),
                "filter_errors": errors,
                "role_choices": grantable_roles(request),
                "grantable": [value for value, _label in grantable_roles(request)],
                # what the user limit counts (as the dashboard and Usage do): active users
                "active_users": sum(count for _label, count in user_count_by_role(tenant=request.tenant)),
            },
            status=status,
        )

    def post(self, request):
        form = _offering(UserCreateForm(request.POST), request)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        try:
            user = user_create(
                tenant=request.tenant,
                actor=Actor.from_request(request),
                base_url=base_url(request),
                **form.cleaned_data,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.get(request, form=form, status=exc.http_status)
        messages.success(request, f"{user.email} is invited; they will get an email to choose a password.")
        return redirect("settings:users")


class UserChangePage(PermissionRequiredPage, View):
    required_permission = Perm.USERS_MANAGE

    def post(self, request, user_id):
        user = user_get(tenant=request.tenant, user_id=user_id)
        if user is None:
            messages.error(request, "No such user.")
            return redirect("settings:users")
        actor = Actor.from_request(request)
        try:
            if request.POST.get("action") == "delete":
                user_delete(user=user, actor=actor)
                messages.success(request, f"{user.email} is removed.")
            else:
                form = UserChangeForm(request.POST)
                if form.is_valid():
                    changes = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
                    user_update(user=user, actor=actor, **changes)
                    messages.success(request, f"{user.email} is updated.")
                else:
                    messages.error(request, "That change is not valid.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("settings:users")


@method_decorator(never_cache, name="dispatch")
class ApiKeyListPage(PermissionRequiredPage, View):
    required_permission = Perm.API_KEYS_MANAGE
    template_name = "accounts/api_keys.html"

    def get(self, request, form=None, new_key=None, status=200):
        return render(
            request,
            self.template_name,
            {
                "keys": api_key_list(tenant=request.tenant),
                "form": form or ApiKeyCreateForm(),
                "new_key": new_key,
            },
            status=status,
        )

    def post(self, request):
        form = ApiKeyCreateForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        try:
            key, raw = api_key_create(
                tenant=request.tenant,
                creator=request.user,
                actor=Actor.from_request(request),
                **form.cleaned_data,
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
            return self.get(request, form=form, status=exc.http_status)
        # Shown in this response only; it is never stored and cannot be shown again.
        return self.get(request, new_key={"name": key.name, "key": raw}, status=201)


class ApiKeyRevokePage(PermissionRequiredPage, View):
    required_permission = Perm.API_KEYS_MANAGE

    def post(self, request, key_id):
        key = api_key_get(tenant=request.tenant, key_id=key_id)
        if key is not None:
            api_key_revoke(key=key, actor=Actor.from_request(request))
            messages.success(request, f"The key {key.name} ({key.prefix}) is revoked.")
        return redirect("settings:api_keys")
