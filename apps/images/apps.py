from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "apps.images"
    label = "images"

    def ready(self) -> None:
        from django.http import multipartparser

        from apps.accounts.permissions import Perm
        from apps.images.services.thumbnails import thumbnail_specs_create_defaults
        from apps.images.services.usage import usage_ensure

        # Django drops a multipart part whose headers pass 1 KiB, so a file name over about 1 KB made
        # the file vanish (400 file_required); names are shortened to 255 characters when stored
        # (sanitize_filename). 16 KiB still bounds what one part may declare.
        multipartparser.MAX_TOTAL_HEADER_SIZE = 16 * 1024  # type: ignore[attr-defined]
        from apps.jobs.registry import job_kind_register
        from apps.tenants.setup import tenant_setup_register

        tenant_setup_register("images.thumbnail_specs", thumbnail_specs_create_defaults, order=20)
        # The quota's counter row, before the first uploads race to need it.
        tenant_setup_register("images.usage_row", usage_ensure, order=30)

        for kind, label, inputs in (
            ("thumbnails_apply", "Apply thumbnail configuration", ()),
            ("thumbnails_regenerate", "Regenerate thumbnails", ("image_ids",)),
        ):
            job_kind_register(
                kind=kind,
                label=label,
                runner="apps.images.services.jobs.thumbnails_job_run",
                permission=Perm.IMAGES_VIEW,
                manage_permission=Perm.THUMBNAILS_MANAGE,
                queue="thumbnails",
                retry_params=inputs,
            )
        job_kind_register(
            kind="images_trash_restore",
            label="Restore the trash",
            runner="apps.images.services.trash.trash_restore_run",
            # members restore (and follow) their own images; the job shows counts only
            permission=Perm.IMAGES_DELETE_OWN,
            queue="maintenance",
            # not retryable: its scope depends on who started it (a retry by another would widen it)
        )
        job_kind_register(
            kind="images_trash_empty",
            label="Empty the trash",
            runner="apps.images.services.trash.trash_empty_run",
            permission=Perm.IMAGES_DELETE_ANY,
            queue="maintenance",
            retry_params=("before",),
        )
