from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Tenant admin"
    OWNER = "owner", "Tenant owner"
    GLOBAL_ADMIN = "global_admin", "Global admin"


TENANT_ROLES = (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(tenant=None, role=Role.GLOBAL_ADMIN, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Tenant users belong to exactly one tenant; global admins to none.

    The same email may exist once per tenant and once among global admins, so the username field is
    not unique on its own: `apps.accounts.backends.TenantEmailBackend` looks users up by tenant.
    """

    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    email_confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"], nulls_distinct=False, name="user_email_unique_per_tenant"
            ),
            models.CheckConstraint(
                condition=(
                    Q(role=Role.GLOBAL_ADMIN, tenant__isnull=True)
                    | Q(~Q(role=Role.GLOBAL_ADMIN), tenant__isnull=False)
                ),
                name="user_global_admin_has_no_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_global_admin(self) -> bool:
        return self.role == Role.GLOBAL_ADMIN and self.is_superuser

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email
