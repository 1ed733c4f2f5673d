from django.apps import AppConfig


class ImagesConfig(AppConfig):
    name = "apps.images"
    label = "images"

    def ready(self) -> None:
        from django.http import multipartparser

        from apps.accounts.permissions import Perm

        # Django drops a multipart part whose headers pass 1 KiB, so a file name over about 1 KB made
        # the file vanish (400 file_required); names are shortened to 255 characters when stored
        # (sanitize_filename). 16 KiB still bounds what one part may declare.
        multipartparser.MAX_TOTAL_HEADER_SIZE = 16 * 1024
        from apps.jobs.registry import job_kind_register

        for kind, label in (
            ("thumbnails_apply", "Apply thumbnail configuration"),
            ("thumbnails_regenerate", "Regenerate thumbnails"),
        ):
            job_kind_register(
                kind=kind,
                label=label,
                runner="apps.images.services.jobs.thumbnails_job_run",
                permission=Perm.IMAGES_VIEW,
                manage_permission=Perm.THUMBNAILS_MANAGE,
                queue="thumbnails",
            )
