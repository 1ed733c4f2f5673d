"""A search page's rows: read with a few spare ones (an image may have been deleted since the
results were ranked), but made into instances only as far as the page goes."""

from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.images.models import Image
from apps.search.selectors import images_for_results
from tests.query_counts import image_rows


def test_a_page_read_with_spare_rows_makes_instances_of_the_first_live_ones_only(alpha):
    with tenant_context(alpha):
        first, gone, second, spare = (str(image.pk) for image in image_rows(4, tenant=alpha))
        Image.objects.filter(pk=gone).update(deleted_at=timezone.now())

        page = images_for_results([first, gone, second, spare], metadata=False, first=2)
        everything = images_for_results([spare, first, gone, second], metadata=False)

    assert list(page) == [first, second]
    assert page[second].storage_location_name
    assert set(everything) == {first, second, spare}
