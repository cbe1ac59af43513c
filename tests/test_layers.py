"""The code's layers (README, "Layout"): no import circles, and no module imports one of a higher layer.

Every import is read from the source (module level, inside functions, lazy ones alike; only those under
`if TYPE_CHECKING:` are left out, as they never run), with the packages an import runs on the way
(`import qa.insights.events` runs `qa/__init__` and `qa/insights/__init__`).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("plumbing", "index", "qa", "server")
# Lowest first. A module may import its own layer and those below it, never one above.
LAYERS = (
    ("plumbing", ("plumbing", "index.errors")),
    ("index", ("index",)),
    ("answering", ("qa",)),
    ("offline and insights", ("qa.insights", "qa.eval", "qa.bank", "qa.watch", "qa.__main__")),
    ("server", ("server",)),
)


def layer_of(module: str) -> int:
    """The index in LAYERS of the most specific prefix naming `module`."""
    best, length = -1, -1
    for number, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = number, len(prefix)
    return best


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ours that `module` imports, with the packages each import runs through."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_checking = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                     for node in ast.walk(block)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            while name:
                if name in known and name != module and not module.startswith(name + "."):
                    targets.add(name)
                name = name.rpartition(".")[0]
    return targets


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {module: imports(module, path, known) for module, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's strongly connected components)."""
    order, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in graph:
        if node not in order:
            visit(node)
    return found


def test_every_module_has_a_layer():
    assert not [module for module in modules() if layer_of(module) < 0]


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_a_higher_layer():
    upward = [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for module, targets in import_graph().items() for target in sorted(targets)
              if layer_of(target) > layer_of(module)]
    assert upward == []


def test_the_readme_states_the_layers():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, prefixes in LAYERS:
        assert f"**{name}**" in readme, name
