"""The import graph of ``boneage/`` and the rules it keeps: ``python -m boneage.cli.architecture``.

Each subpackage may import only the ones below it, so serving (io → chain → model → meaning →
predictor → report → web) never imports training or the tools, and there are no import cycles
between modules. ``--write docs/architecture.md`` redraws the picture there (a Mermaid graph);
the tests check the rules and that the picture is current.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVING = ["words", "errors", "io", "weights", "chain", "model", "meaning", "predictor", "report", "web"]
# What each part may import (besides itself). "boneage" is the package's own __init__ (public API).
ALLOWED: dict[str, set[str]] = {
    "words": set(),
    "errors": {"words"},
    "io": {"errors"},
    "weights": {"errors"},
    "chain": {"errors", "io", "weights"},
    "model": {"errors", "chain", "weights"},
    "meaning": {"errors", "io", "words"},
    "predictor": {"errors", "io", "weights", "chain", "model", "meaning", "words"},
    "report": {"boneage", "errors", "io", "chain", "model", "meaning", "predictor", "words"},
    "web": {"boneage", *SERVING} - {"web"},
    "training": {"boneage", *SERVING} - {"report", "web"},
    "batch": {"errors", "io", "weights", "chain", "predictor", "words"},
    "cli": {"boneage", *SERVING, "training", "batch"} - {"web"},
    "boneage": {"errors", "io", "predictor"},
    "app": {"boneage", *SERVING},
    "train": {"boneage", "errors", "training", "chain", "model", "weights"},
}
# Left out of the picture: every part may use them.
BASE = ("errors", "words", "boneage")
START, END = (
    "<!-- import graph: start (python -m boneage.cli.architecture --write docs/architecture.md) -->",
    ("<!-- import graph: end -->"),
)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_imports(root: Path = REPO_ROOT) -> dict[str, set[str]]:
    """module -> the boneage modules it imports (anywhere in it, lazy imports included)."""
    files = sorted((root / "boneage").rglob("*.py")) + [root / "app.py", root / "train.py"]
    graph: dict[str, set[str]] = {}
    for path in files:
        if not path.is_file():
            continue
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "boneage":
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported |= {a.name for a in node.names if a.name.split(".")[0] == "boneage"}
        graph[module_name(path, root)] = imported
    return graph


def part(module: str) -> str:
    """The part a module belongs to: its subpackage, a top-level module, or app/train."""
    pieces = module.split(".")
    return pieces[1] if pieces[0] == "boneage" and len(pieces) > 1 else pieces[0]


def violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            source_part, target_part = part(module), part(target)
            if source_part != target_part and target_part not in ALLOWED.get(source_part, set()):
                found.append(f"{module} imports {target} ({source_part} may not import {target_part})")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def part_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    parts: dict[str, set[str]] = {}
    for module, imported in graph.items():
        targets = parts.setdefault(part(module), set())
        targets |= {part(t) for t in imported} - {part(module), *BASE}
    for name in BASE:
        parts.pop(name, None)
    return parts


def reduced(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """Drop an edge a → c where a path a → b → … → c exists: the picture keeps only what it must."""

    def reachable(start: str, skip: tuple[str, str]) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            for target in edges.get(node, ()):
                if (node, target) != skip and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    return {a: {c for c in targets if c not in reachable(a, (a, c))} for a, targets in edges.items()}


def mermaid(graph: dict[str, set[str]]) -> str:
    members: dict[str, list[str]] = {}
    for module in sorted(graph):
        pieces = module.split(".")
        if pieces[0] == "boneage" and len(pieces) > 2:
            members.setdefault(pieces[1], []).append(pieces[2])
    edges = reduced(part_graph(graph))
    lines = ["```mermaid", "flowchart TD"]
    for name in sorted(edges):
        label = f"{name}.py" if name in ("app", "train") else name
        if members.get(name):
            label += "<br/><small>" + " · ".join(members[name]) + "</small>"
        shape = ("[", "]") if name in SERVING or name == "app" else ("[[", "]]")
        lines.append(f'    {name}{shape[0]}"{label}"{shape[1]}')
    for source in sorted(edges):
        for target in sorted(edges[source]):
            lines.append(f"    {source} --> {target}")
    lines.append("```")
    return "\n".join(lines)


def with_graph(document: str, graph: dict[str, set[str]]) -> str:
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{mermaid(graph)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--write", type=Path, help="redraw the graph between the markers in this Markdown file"
    )
    args = parser.parse_args(argv)
    graph = module_imports()
    problems = violations(graph) + [f"import cycle: {' -> '.join(group)}" for group in cycles(graph)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.write:
        args.write.write_text(with_graph(args.write.read_text(), graph))
    else:
        print(mermaid(graph))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
