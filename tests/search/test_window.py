"""How many neighbours a search reads from the index for a page (apps/search/services/search.py):
always more than the page, to know whether more pass, in a few fixed sizes (the neighbours query
is prepared per size), and no more than a small page needs."""

import pytest

from apps.search.services.search import WINDOWS, window_for


@pytest.mark.parametrize(
    ("max_results", "window"),
    [(1, 25), (10, 25), (24, 25), (25, 100), (50, 100), (99, 100), (100, 200), (999, 1000)],
)
def test_the_window_is_the_smallest_size_past_the_page(max_results, window):
    assert window_for(max_results) == window


def test_the_largest_page_reads_the_largest_window_and_the_sizes_are_few():
    assert window_for(1000) == WINDOWS[-1] == 1000
    assert len(WINDOWS) <= 11
