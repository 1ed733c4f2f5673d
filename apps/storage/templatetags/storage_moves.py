"""Template tags of the storage domain for other apps' pages: the gallery's bulk bar offers the
locations images may be moved to (templates name this library; no import from apps.images)."""

from django import template

from apps.storage.models import StorageLocation
from apps.storage.selectors import storage_move_targets

register = template.Library()


@register.simple_tag
def move_targets() -> list[StorageLocation]:
    return list(storage_move_targets())
