"""List the import cycles between modules of apps/ and deeplens/ (imports inside
functions included): `python scripts/import_cycles.py`. Exits 1 when there is any.

import-linter's contracts in pyproject.toml (run by `make lint`) keep the layers and forbid cycles
between the apps; this report shows every module-level cycle, for reviews and notes."""

import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Tarjan's algorithm over the import graph, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules)))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def main() -> int:
    graph = grimp.build_graph("apps", "deeplens", cache_dir=None)
    modules = {m for m in graph.modules if ".migrations" not in m}
    cycles = sorted(strongly_connected(graph, modules), key=len, reverse=True)
    for number, cycle in enumerate(cycles, 1):
        print(f"cycle {number}: {len(cycle)} modules")
        for module in cycle:
            print(f"  {module}")
    print(f"{len(cycles)} import cycle(s)")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
