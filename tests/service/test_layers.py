"""The floor plan holds, drawn from the imports themselves (every import counts, also one inside a
function or under TYPE_CHECKING): no module imports one on a higher floor, no two modules import
each other round a circle, and the edge packages never import the core.

The floors, from the ground up, are the README's ("Where things are"); a new module is placed
by the first pattern that names it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EDGES = ("integrations", "calendars", "webhooks")
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    (
        "ground",
        (
            "settings",
            "inbound_url",
            "clock",
            "tokens",
            "metrics",
            "pages",
            "periodic",
            "turns",
            "senders",
            "progress",
            "providers",
            "db",
        ),
    ),
    (
        "domain",
        (
            "program",
            "scheduling",
            "suggestions",
            "attendance",
            "participants",
            "replays",
            "report",
            "signin",
        ),
    ),
    ("services", ("rooms", "mail", "outbound", "dashboard", "workspace")),
    ("http", ("api", "appkeys", "accesslog")),
    ("entry", ("app", "serve", "commands", "cli", "demo", "__main__")),
]
# Imports that climb a floor on purpose, each with its reason in the module that makes it.
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def floor_of(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "orchestrator" or len(parts) == 1:
        return -1
    for number, (_, names) in enumerate(FLOORS):
        if parts[1] in names:
            return number
    raise AssertionError(f"{module} is on no floor: add it to FLOORS (and to the README)")


def modules() -> dict[str, Path]:
    found = {}
    for package in ("orchestrator", *EDGES):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project's modules `path` imports (a `from package import module` names the module;
    a package named only for its modules is no import of its own)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names]
            if not any(target in known for target in targets):
                targets.append(base)
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, name, set(found)) for name, path in found.items()}


def test_every_import_points_down_or_sideways() -> None:
    upward = sorted(
        (module, target)
        for module, targets in graph().items()
        for target in targets
        if floor_of(target) > floor_of(module) and (module, target) not in ALLOWED_UPWARD
    )
    assert upward == [], "\n".join(f"{a} ({FLOORS[floor_of(a)][0]}) imports {b}" for a, b in upward)


def test_no_import_circles() -> None:
    edges = graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == [], "\n".join(" -> ".join(circle) for circle in circles)


def test_the_edge_packages_never_import_the_core() -> None:
    leaks = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        if module.startswith(EDGES)
        for target in targets
        if target.startswith("orchestrator")
    )
    assert leaks == []


def test_every_module_of_the_core_is_on_a_floor() -> None:
    for module in modules():
        if module.startswith("orchestrator."):
            floor_of(module)  # raises for a module on no floor
