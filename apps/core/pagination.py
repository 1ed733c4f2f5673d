from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500

    def paginate_queryset(self, queryset, request, view=None) -> list:
        """The page; never None here (DRF returns None only without a limit, and default_limit is set)."""
        page: list | None = super().paginate_queryset(queryset, request, view)
        assert page is not None
        return page
