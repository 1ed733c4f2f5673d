"""Pairs -> groups: union-find (connected components), pure and linear in the number of pairs."""

from collections.abc import Hashable, Iterable
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


def components(pairs: Iterable[tuple[Node, Node]]) -> list[list[Node]]:
    """Connected components of the graph the pairs form, each with two or more nodes."""
    parent: dict = {}

    def find(x):
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    out: dict = {}
    for node in parent:
        out.setdefault(find(node), []).append(node)
    return [members for members in out.values() if len(members) > 1]


def hash_pairs(hashes, *, max_distance: int, max_bucket: int = 200) -> list[tuple[int, int]]:
    """Pairs (i, j) of rows whose 64-bit hashes (uint64 array) differ in at most `max_distance` bits,
    found through four 16-bit bands (multi-index hashing): rows that share a band value are
    compared, never all N x N. Over-full buckets (flat images) are cut at `max_bucket`."""
    import numpy as np

    from apps.duplicates.matching import hamming64

    hashes = np.asarray(hashes, dtype=np.uint64)
    found: set[tuple[int, int]] = set()
    for shift in (48, 32, 16, 0):
        band = ((hashes >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64)
        order = np.argsort(band, kind="stable")
        sorted_band = band[order]
        starts = np.flatnonzero(np.diff(sorted_band, prepend=-1))
        ends = np.append(starts[1:], len(order))
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if e - s < 2:
                continue
            rows = order[s : min(e, s + max_bucket)]
            d = hamming64(hashes[rows][:, None], hashes[rows][None, :])
            ii, jj = np.nonzero(np.triu(d <= max_distance, 1))
            for i, j in zip(rows[ii].tolist(), rows[jj].tolist(), strict=True):
                found.add((min(i, j), max(i, j)))
    return sorted(found)
