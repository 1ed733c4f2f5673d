"""Editing what an upload left: an image's tags, description and capture date, one at a time or in
bulk (tag, untag, trash)."""

from datetime import datetime

from django.db import transaction

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.errors import ApplicationError, InvalidInput, PermissionDenied
from apps.images.models import Image
from apps.images.services.ingest import clean_tags
from apps.images.services.lifecycle import image_delete

MAX_DESCRIPTION = 2000
BULK_ACTIONS = ("tag", "untag", "delete")
_UNSET = object()


def _check_may_edit(*, image: Image, actor: Actor, permissions) -> None:
    if Perm.IMAGES_DELETE_ANY in permissions:
        return
    if Perm.IMAGES_UPLOAD in permissions and actor.user is not None and image.uploaded_by_id == actor.user.pk:
        return
    raise PermissionDenied("Members can edit only the images they uploaded.", code="not_your_image")


def image_may_edit(*, image: Image, actor: Actor, permissions) -> bool:
    try:
        _check_may_edit(image=image, actor=actor, permissions=permissions)
    except PermissionDenied:
        return False
    return True


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


@transaction.atomic
def image_update(
    *, image: Image, actor: Actor, permissions, tenant, tags=_UNSET, description=_UNSET, taken_at=_UNSET
) -> Image:
    """Change the tags, description and/or capture date (None clears it); audited with before and
    after. Bad input or a refused caller changes nothing."""
    _check_may_edit(image=image, actor=actor, permissions=permissions)
    wanted: dict = {}
    if tags is not _UNSET:
        wanted["tags"] = clean_tags(tags)
    if description is not _UNSET:
        text = (description or "").strip()
        if len(text) > MAX_DESCRIPTION:
            raise InvalidInput(
                f"A description is at most {MAX_DESCRIPTION} characters.",
                code="description_invalid",
                extra={"description": [f"At most {MAX_DESCRIPTION} characters."]},
            )
        wanted["description"] = text
    if taken_at is not _UNSET:
        wanted["taken_at"] = taken_at
    image = Image.objects.select_for_update().get(pk=image.pk)
    changed = {field: value for field, value in wanted.items() if getattr(image, field) != value}
    if not changed:
        return image
    before = {field: _plain(getattr(image, field)) for field in changed}
    for field, value in changed.items():
        setattr(image, field, value)
    image.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.IMAGE_UPDATED,
        tenant=tenant,
        target=image,
        details={
            "filename": image.original_filename,
            "before": before,
            "after": {field: _plain(value) for field, value in changed.items()},
        },
    )
    return image


def images_bulk_edit(*, images: list[Image], action: str, tags: list[str], actor: Actor, permissions, tenant):
    """Tag, untag or trash each image the caller may change; each one on its own (a refused image
    does not stop the others). Returns (changed ids, [{id, code, message}] refused)."""
    if action not in BULK_ACTIONS:
        raise InvalidInput(
            f"Unknown action {action!r}; the actions are {', '.join(BULK_ACTIONS)}.",
            code="bulk_action_invalid",
            extra={"action": [f"Choose one of {', '.join(BULK_ACTIONS)}."]},
        )
    given = clean_tags(tags)
    if action in ("tag", "untag") and not given:
        raise InvalidInput(
            "Give the tags to add or remove.", code="tag_invalid", extra={"tags": ["Required."]}
        )
    done, refused = [], []
    for image in images:
        try:
            if action == "delete":
                image_delete(image=image, actor=actor, permissions=permissions, tenant=tenant)
            else:
                new = (
                    [*image.tags, *given]
                    if action == "tag"
                    else [tag for tag in image.tags if tag not in given]
                )
                image_update(image=image, actor=actor, permissions=permissions, tenant=tenant, tags=new)
            done.append(str(image.pk))
        except ApplicationError as exc:
            refused.append({"id": str(image.pk), "code": exc.code, "message": exc.message})
    return done, refused
