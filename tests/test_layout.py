"""The layout's promises, read from the source: imports point one way and form no cycle."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute module names imported anywhere in ``path`` (also inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def library_graph() -> dict[str, set[str]]:
    """{worldmodel module: the worldmodel modules it imports (a package import counts as its __init__)}."""
    files = {module_name(p): p for p in (ROOT / "worldmodel").rglob("*.py")}
    graph = {}
    for name, path in files.items():
        graph[name] = {target for target in imports_of(path) if target in files and target != name}
    return graph


def test_library_never_imports_data_prep():
    offenders = sorted(module_name(p) for p in (ROOT / "worldmodel").rglob("*.py")
                       if any(t == "data_prep" or t.startswith("data_prep.") for t in imports_of(p)))
    assert offenders == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_in_the_library():
    assert find_cycle(library_graph()) is None


def test_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("reader", ["worldmodel.train.runs", "worldmodel.eval.evaluate", "worldmodel.rollout.report",
                                    "worldmodel.api"])
def test_readers_of_a_run_do_not_load_the_training_loop(reader):
    assert "worldmodel.train.loop" not in reachable(library_graph(), reader)
