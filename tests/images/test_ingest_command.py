import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from apps.images.models import Image, ImageStatus
from tests import imagefiles


def test_a_folder_is_ingested_and_non_images_are_skipped(alpha, tmp_path, capsys):
    (tmp_path / "one.jpg").write_bytes(imagefiles.jpeg(300, 200))
    (tmp_path / "two.png").write_bytes(imagefiles.png_rgba())
    (tmp_path / "notes.txt").write_bytes(imagefiles.TEXT)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "three.webp").write_bytes(imagefiles.FORMAT_BYTES["webp"]())

    call_command("ingest_folder", "alpha", str(tmp_path), "--recursive", "--tag", "import", "--process-now")

    out = capsys.readouterr()
    assert "3 images ingested into alpha, 1 files skipped" in out.out
    assert "notes.txt" in out.err
    with tenant_context(alpha):
        assert sorted(Image.objects.values_list("original_filename", "status")) == [
            ("one.jpg", ImageStatus.READY),
            ("three.webp", ImageStatus.READY),
            ("two.png", ImageStatus.READY),
        ]
        assert all(tags == ["import"] for tags in Image.objects.values_list("tags", flat=True))


@pytest.mark.parametrize(("tenant", "folder"), [("nobody", "."), ("alpha", "/no/such/folder")])
def test_bad_arguments_are_explained(alpha, tenant, folder):
    with pytest.raises(CommandError):
        call_command("ingest_folder", tenant, folder)
