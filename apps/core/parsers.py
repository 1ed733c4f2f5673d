"""The API's JSON parser: DRF's, with a nesting limit.

json.loads recurses once per level, so about 990 nested brackets raise RecursionError, which DRF's
parser does not catch (an HTML 500); and anything deeper than real input (serializers, logging,
copies) recurses again later. Bodies nested past MAX_JSON_DEPTH are refused as 400 parse_error.
"""

from collections.abc import Iterable
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No DeepLens input nests more than a few levels (search filters are the deepest, at 3).
MAX_JSON_DEPTH = 32


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether `value` nests containers more than `limit` deep; iterative, so any depth is safe."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep") from exc
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep")
        return data
