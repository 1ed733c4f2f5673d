"""The rows and credentials the permission matrix calls the API with, made once per module.

Every principal (a user of each role, a global admin, an API key of each scope) gets its credential
minted once; every endpoint gets a request that succeeds when the caller may make it (a real image,
group, job, storage location, user, key...), so the matrix asserts the endpoint's real success code.
"""

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import tenant_context

from apps.accounts.models import ApiKeyScope, Role, SsoProvider, User
from apps.accounts.services import api_key_create
from apps.accounts.services.sessions import _session_start
from apps.audit.context import Actor
from apps.duplicates.models import Group, GroupStatus, Resolution, ResolutionSource
from apps.duplicates.services import image_detect
from apps.images.models import Image, ImageStatus
from apps.images.services import image_process
from apps.images.services.ingest import image_ingest
from apps.jobs.models import Job
from apps.storage.models import StorageLocation, StorageProvider
from apps.tenants.models import Tenant
from tests import imagefiles
from tests.factories import PASSWORD, GlobalAdminFactory, UserFactory

ROLES = (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER)
KEY_SCOPES = tuple(ApiKeyScope.values)
# The columns of the golden table, in its order.
PRINCIPALS = ("anonymous", *ROLES, "global_admin", *(f"key:{scope}" for scope in KEY_SCOPES))


@dataclass
class World:
    tenant: Tenant
    other: Tenant
    users: dict[str, User]
    credentials: dict[str, str]  # principal -> Authorization header value
    sessions: dict[str, str]  # principal -> the session (token family) its credential belongs to
    ids: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


def _ingest(tenant: Tenant, user: User, name: str, data: bytes, *, process: bool = True) -> Image:
    image = image_ingest(
        tenant=tenant, file=SimpleUploadedFile(name, data), filename=name, actor=Actor(user=user)
    )
    if process:
        image_process(image_id=image.pk, tenant_slug=tenant.slug)
    return Image.objects.get(pk=image.pk)


def _job(kind: str, user: User, state: str = Job.State.RUNNING, **params) -> Job:
    return Job.objects.create(kind=kind, created_by=user, params=params, state=state)


def world_build() -> World:
    tenant, other = Tenant.objects.get(slug="alpha"), Tenant.objects.get(slug="beta")
    users = {role: UserFactory(tenant=tenant, role=role, email=f"matrix-{role}@alpha.test") for role in ROLES}
    users["global_admin"] = GlobalAdminFactory(email="matrix-root@deeplens.test")
    credentials, sessions = {"anonymous": ""}, {}
    for principal in (*ROLES, "global_admin"):
        access, _refresh, row = _session_start(user=users[principal], actor=Actor.system())
        credentials[principal] = f"Bearer {access}"
        sessions[principal] = str(row.family)
    for scope in KEY_SCOPES:
        _key, raw = api_key_create(
            tenant=tenant,
            creator=users[Role.OWNER],
            name=f"matrix {scope}",
            scopes=[scope],
            actor=Actor(user=users[Role.OWNER]),
        )
        credentials[f"key:{scope}"] = f"Api-Key {raw}"
    world = World(tenant=tenant, other=other, users=users, credentials=credentials, sessions=sessions)

    member = users[Role.MEMBER]
    _refresh_access, refresh, _row = _session_start(user=member, actor=Actor.system())
    target = UserFactory(tenant=tenant, role=Role.VIEWER, email="matrix-target@alpha.test")
    world.extra.update(
        refresh=refresh,
        password=PASSWORD,
        reset_uid=urlsafe_base64_encode(force_bytes(target.pk)),
        reset_token=default_token_generator.make_token(target),
        jpeg=imagefiles.jpeg(96, 64),
    )
    world.ids.update(tenant=str(tenant.pk), user=str(target.pk), member=str(member.pk))
    sso_provider = SsoProvider.objects.create(
        tenant=tenant, slug="matrix", name="Matrix ID", issuer="http://127.0.0.1:9", client_id="matrix"
    )
    world.ids.update(sso_provider=str(sso_provider.pk))
    with tenant_context(tenant):
        revocable, _raw = api_key_create(
            tenant=tenant,
            creator=users[Role.OWNER],
            name="revocable",
            scopes=["search"],
            actor=Actor.system(),
        )
        photo = imagefiles.jpeg(640, 480, seed=7)
        image = _ingest(tenant, member, "matrix.jpg", photo)
        copy = _ingest(tenant, member, "matrix-copy.jpg", photo)
        for one in (image, copy):
            image_detect(image_id=one.pk)
        group = Group.objects.filter(status=GroupStatus.OPEN).order_by("-created_at").first()
        failed = _ingest(tenant, member, "failed.jpg", imagefiles.jpeg(120, 80), process=False)
        Image.objects.filter(pk=failed.pk).update(status=ImageStatus.FAILED)
        deleted = _ingest(tenant, member, "deleted.jpg", imagefiles.jpeg(200, 100))
        Image.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
        # A resolution that trashed `deleted`: undoing it restores that image.
        resolution = Resolution.objects.create(
            source=ResolutionSource.SINGLE,
            trashed_ids=[deleted.pk],
            trashed_bytes=deleted.size_bytes,
            created_by=users[Role.ADMIN],
        )
        # Under the tenant's allowed filesystem root (DEEPLENS_FS_ROOTS), which the product creates.
        root = Path(settings.DEEPLENS_FS_ROOTS[0].replace("{tenant}", tenant.slug)) / "matrix"
        root.mkdir(parents=True, exist_ok=True)
        location = StorageLocation.objects.create(
            name="matrix disk", provider=StorageProvider.FILESYSTEM, config={"root": str(root / "a")}
        )
        target_location = StorageLocation.objects.create(
            name="matrix disk 2", provider=StorageProvider.FILESYSTEM, config={"root": str(root / "b")}
        )
        scan_location = StorageLocation.objects.create(
            name="matrix index",
            provider=StorageProvider.FILESYSTEM,
            config={"root": str(root / "c")},
            index_only=True,
        )
        from apps.storage.crypto import secrets_encrypt
        from apps.webhooks.models import WebhookDelivery, WebhookEndpoint

        webhook = WebhookEndpoint.objects.create(
            url="https://93.184.216.34/hook",
            events=["job.finished"],
            secret_encrypted=secrets_encrypt({"secret": "whsec_matrix"}),
        )
        webhook_delivery = WebhookDelivery.objects.create(
            endpoint=webhook, event="job.finished", payload={"event": "job.finished", "data": {}}
        )
        from apps.jobs.runner import job_run
        from apps.jobs.services import job_create

        export = job_create(kind="tenant_export", actor=Actor(user=users[Role.ADMIN]))
        job_run(job_id=export.pk)
        world.ids.update(
            export_job=str(export.pk),
            webhook=str(webhook.pk),
            webhook_delivery=str(webhook_delivery.pk),
            scan_location=str(scan_location.pk),
            api_key=str(revocable.pk),
            image=str(image.pk),
            copy=str(copy.pk),
            group=str(group.pk) if group else "00000000-0000-0000-0000-000000000000",
            failed=str(failed.pk),
            deleted=str(deleted.pk),
            resolution=str(resolution.pk),
            location=str(location.pk),
            target_location=str(target_location.pk),
            thumbnail_job=str(_job("thumbnails_regenerate", member).pk),
            failed_job=str(_job("thumbnails_regenerate", member, state=Job.State.FAILED).pk),
            # Finished: re-scans are single-flight, a running one would make POST duplicates/rescan 409.
            duplicates_job=str(_job("duplicates_rescan", member, state=Job.State.DONE).pk),
            storage_job=str(_job("storage_migrate", member, location_id=str(scan_location.pk)).pk),
            scan_job=str(_job("storage_scan", member, location_id=str(location.pk)).pk),
        )
        world.extra["fs_root"] = str(root / "new")
    return world
