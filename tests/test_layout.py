"""The import graph of `bot/` and `commands/`: no cycles between project modules, and each folder
imports only what its job allows (the table `RULES` below).

Every `import` counts, wherever it is written: at module level, inside a function, and inside
`if TYPE_CHECKING:` (a type-only import is still a dependency a reader has to follow). Tests and
benchmarks are not scanned.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "commands")


# --- the rules ------------------------------------------------------------------------------
#
# A pattern is a module name (`bot.settings`: that module only) or a name ending in `.*`
# (`bot.util.*`: the package and everything under it); `*` is every project module.


@dataclass(frozen=True)
class Rule:
    """`importers` (minus `exempt`) may import, of the project's modules, `only` these when
    `only` is set, and never `never` unless the target is also in `unless`."""

    why: str
    importers: tuple[str, ...]
    exempt: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None
    never: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


BELOW_RUNTIME = (
    "bot.cases.*",
    "bot.core.*",
    "bot.moderation.*",
    "bot.shared.*",
    "bot.slack.*",
    "bot.stream.*",
    "bot.util.*",
    "commands.*",
)

RULES: tuple[Rule, ...] = (
    Rule(
        "bot.local (the console's stand-ins) is imported only by bot.__main__ and bot.local",
        importers=("*",),
        exempt=("bot.__main__", "bot.local.*"),
        never=("bot.local.*",),
    ),
    Rule(
        "bot.util imports nothing from bot but bot.util",
        importers=("bot.util.*",),
        only=("bot.util.*",),
    ),
    Rule(
        "bot.stream knows nothing of Slack, the core, the domain or the runtime",
        importers=("bot.stream.*",),
        only=("bot.stream.*", "bot.shared.*", "bot.util.*", "bot.settings", "bot"),
    ),
    Rule(
        "bot.shared (state replicas share) imports nothing from bot but bot.shared and bot.util",
        importers=("bot.shared.*",),
        only=("bot.shared.*", "bot.util.*"),
    ),
    Rule(
        "bot.cases (the case store) knows nothing of Slack, Stream, the core or the domain",
        importers=("bot.cases.*",),
        only=("bot.cases.*", "bot.util.*"),
    ),
    Rule(
        "bot.settings imports nothing from bot but bot.util",
        importers=("bot.settings",),
        only=("bot.util.*",),
    ),
    Rule(
        "commands use the core, the domain, case values, Stream, blocks, util and settings only",
        importers=("commands.*",),
        only=(
            "bot.cases.models",
            "bot.cases.errors",
            "bot.core.*",
            "bot.moderation.*",
            "bot.stream.*",
            "bot.slack.blocks",
            "bot.util.*",
            "bot.settings",
            "commands.*",
        ),
    ),
    Rule(
        "nothing below the runtime imports bot.runtime",
        importers=BELOW_RUNTIME,
        exempt=("bot.slack.bolt",),
        never=("bot.runtime.*",),
    ),
    Rule(
        "bot.slack.bolt imports only bot.runtime.logs and bot.runtime.metrics from the runtime",
        importers=("bot.slack.bolt",),
        never=("bot.runtime.*",),
        unless=("bot.runtime.logs", "bot.runtime.metrics"),
    ),
    Rule(
        "bot.moderation (the domain) never imports Bolt wiring, the runtime or bot.local",
        importers=("bot.moderation.*",),
        never=("bot.slack.bolt", "bot.runtime.*", "bot.local.*"),
    ),
)


def matches(module: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        package = pattern[:-2]
        return module == package or module.startswith(package + ".")
    return module == pattern


def matches_any(module: str, patterns: Iterable[str]) -> bool:
    return any(matches(module, pattern) for pattern in patterns)


def breaks(rule: Rule, importer: str, target: str) -> bool:
    if not matches_any(importer, rule.importers) or matches_any(importer, rule.exempt):
        return False
    if rule.only is not None and not matches_any(target, rule.only):
        return True
    return matches_any(target, rule.never) and not matches_any(target, rule.unless)


# --- the graph ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import statement's edge: where it is written and how."""

    target: str
    line: int = 0
    how: str = ""  # "", "type-only" (under `if TYPE_CHECKING:`) or "in a function"

    def where(self, importer: str) -> str:
        how = f", {self.how}" if self.how else ""
        return f"{importer}:{self.line}{how}"


Graph = Mapping[str, Sequence[Import]]


def discover(root: Path, packages: Sequence[str] = PACKAGES) -> dict[str, Path]:
    """Module name -> file, for every .py file under the packages (`__init__.py` is the
    package's own module)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: Mapping[str, Path]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.known = known
        self.imports: list[Import] = []
        self._how: list[str] = []

    def _nearest(self, name: str) -> str | None:
        """`name` itself if it is a project module, else its nearest enclosing one."""
        while name:
            if name in self.known:
                return name
            name = name.rpartition(".")[0]
        return None

    def _add(self, target: str | None, node: ast.stmt) -> None:
        if target is None or target == self.module:
            return
        edge = Import(target, node.lineno, self._how[-1] if self._how else "")
        if edge not in self.imports:  # `from x import a, b` is one edge
            self.imports.append(edge)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(self._nearest(alias.name), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base_parts = self.package.split(".")
            if node.level > 1:
                base_parts = base_parts[: -(node.level - 1)]
            base = ".".join([*base_parts, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        for alias in node.names:
            submodule = f"{base}.{alias.name}" if base else alias.name
            # `from bot.slack import blocks` is an import of the module bot.slack.blocks.
            self._add(submodule if submodule in self.known else self._nearest(base), node)

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self._how.append("type-only")
        for statement in node.body:
            self.visit(statement)
        self._how.pop()
        for statement in node.orelse:
            self.visit(statement)

    def _in_function(self, node: ast.AST) -> None:
        self._how.append(self._how[-1] if self._how else "in a function")
        self.generic_visit(node)
        self._how.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._in_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._in_function(node)


def scan(root: Path, packages: Sequence[str] = PACKAGES) -> dict[str, list[Import]]:
    """importer -> its imports of project modules."""
    modules = discover(root, packages)
    graph: dict[str, list[Import]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        collector = _ImportCollector(module, path.name == "__init__.py", modules)
        collector.visit(tree)
        graph[module] = collector.imports
    return graph


# --- the checks -----------------------------------------------------------------------------


def _strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; components of one module without a self-edge dropped."""
    nodes = sorted(set(graph) | {i.target for imports in graph.values() for i in imports})
    successors = {n: sorted({i.target for i in graph.get(n, ())}) for n in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, next_child = work.pop()
            if next_child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = successors[node]
            if next_child < len(children):
                work.append((node, next_child + 1))
                child = children[next_child]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in successors[node]:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(components)


def _shortest_cycle(graph: Graph, start: str, within: set[str]) -> list[str]:
    """The shortest path start -> … -> start inside one strongly connected component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted({i.target for i in graph.get(node, ())}):
                if target not in within:
                    continue
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is not on a cycle")  # pragma: no cover


def find_cycles(graph: Graph) -> list[list[str]]:
    """For each strongly connected component, the shortest cycle through each of its modules
    (each cycle once), e.g. [["bot.a", "bot.b", "bot.a"]]."""
    cycles: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    for component in _strongly_connected(graph):
        within = set(component)
        for module in component:
            cycle = _shortest_cycle(graph, module, within)
            ring = cycle[:-1]
            turn = ring.index(min(ring))
            key = tuple(ring[turn:] + ring[:turn])
            if key not in seen:
                seen.add(key)
                cycles.append([*key, key[0]])
    return cycles


def describe_cycle(graph: Graph, cycle: Sequence[str]) -> str:
    steps = [cycle[0]]
    for importer, target in itertools.pairwise(cycle):
        where = ", ".join(
            i.where(importer).partition(":")[2] for i in graph[importer] if i.target == target
        )
        steps.append(f" -(line {where})-> {target}")
    return "".join(steps)


def forbidden_edges(graph: Graph, rules: Sequence[Rule] = RULES) -> list[str]:
    problems: list[str] = []
    for importer in sorted(graph):
        for edge in sorted(graph[importer], key=lambda i: (i.line, i.target)):
            for rule in rules:
                if breaks(rule, importer, edge.target):
                    problems.append(f"{edge.where(importer)} imports {edge.target}: {rule.why}")
    return problems


def layout_problems(graph: Graph, rules: Sequence[Rule] = RULES) -> list[str]:
    cycles = [f"cycle: {describe_cycle(graph, c)}" for c in find_cycles(graph)]
    edges = [f"forbidden: {p}" for p in forbidden_edges(graph, rules)]
    return cycles + edges


# --- the tests ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return scan(ROOT)


def test_the_scan_sees_the_whole_tree(graph: dict[str, list[Import]]) -> None:
    assert len(graph) > 40, sorted(graph)
    for module in ("bot", "bot.__main__", "bot.settings", "bot.slack.bolt", "commands"):
        assert module in graph
    # A known edge of each kind the scan must see, so an empty graph cannot pass.
    assert {"commands.bans", "commands.calls"} <= {i.target for i in graph["commands"]}
    assert sum(len(imports) for imports in graph.values()) > 100


def test_no_import_cycles_and_no_forbidden_imports(graph: dict[str, list[Import]]) -> None:
    problems = layout_problems(graph)
    assert not problems, "the import layout is broken:\n  " + "\n  ".join(problems)


# The checker itself, on synthetic graphs and files, so the tree test cannot pass vacuously.


def test_checker_reports_a_cycle_and_a_forbidden_edge() -> None:
    synthetic: dict[str, list[Import]] = {
        "bot.core.registry": [Import("bot.core.dispatch", 15, "type-only")],
        "bot.core.dispatch": [Import("bot.moderation.bans.book", 9)],
        "bot.moderation.bans.book": [Import("bot.core.registry", 7)],
        "bot.util.clock": [Import("bot.slack.blocks", 3)],
        "bot.slack.blocks": [],
    }

    problems = layout_problems(synthetic)

    assert problems == [
        "cycle: bot.core.dispatch -(line 9)-> bot.moderation.bans.book -(line 7)-> "
        "bot.core.registry -(line 15, type-only)-> bot.core.dispatch",
        "forbidden: bot.util.clock:3 imports bot.slack.blocks: "
        "bot.util imports nothing from bot but bot.util",
    ]


def test_checker_reports_every_cycle_of_a_tangle_and_self_imports() -> None:
    synthetic: dict[str, list[Import]] = {
        "a": [Import("b"), Import("c")],
        "b": [Import("a")],
        "c": [Import("a")],
        "d": [Import("d")],
        "e": [Import("a")],
    }
    assert find_cycles(synthetic) == [["a", "b", "a"], ["a", "c", "a"], ["d", "d"]]


def test_checker_passes_a_clean_graph() -> None:
    synthetic: dict[str, list[Import]] = {
        "bot.__main__": [Import("bot.local.stack"), Import("bot.runtime.callmod")],
        "bot.runtime.callmod": [Import("bot.slack.bolt"), Import("commands")],
        "bot.slack.bolt": [Import("bot.runtime.logs"), Import("bot.core.dispatch")],
        "commands": [Import("bot.core.registry"), Import("bot.slack.blocks")],
        "bot.core.dispatch": [Import("bot.core.registry"), Import("bot.stream")],
        "bot.stream": [Import("bot.settings"), Import("bot")],
        "bot.settings": [Import("bot.util.clock")],
    }
    assert layout_problems(synthetic) == []


# (importer, imported, allowed?) — one or more examples of every rule in the table.
RULE_EXAMPLES: list[tuple[str, str, bool]] = [
    ("bot.__main__", "bot.local.console", True),
    ("bot.local.stack", "bot.local.emulator.state", True),
    ("bot.runtime.callmod", "bot.local.stack", False),
    ("commands.bans", "bot.local.fake_slack", False),
    ("bot.util.timers", "bot.util.clock", True),
    ("bot.util.timers", "bot.core.registry", False),
    ("bot.util.timers", "bot", False),
    ("bot.stream.client", "bot", True),
    ("bot.stream.client", "bot.settings", True),
    ("bot.stream.retry", "bot.util.clock", True),
    ("bot.stream.client", "bot.slack.blocks", False),
    ("bot.stream.webhooks", "bot.core.registry", False),
    ("bot.stream.events", "bot.moderation.bans.book", False),
    ("bot.stream.client", "bot.runtime.metrics", False),
    ("bot.settings", "bot.util.clock", True),
    ("bot.settings", "bot.stream.models", False),
    ("commands.bans", "bot.slack.blocks", True),
    ("commands.bans", "bot.moderation.bans.book", True),
    ("commands.calls", "bot.stream", True),
    ("commands", "commands.bans", True),
    ("commands.bans", "bot.slack.bolt", False),
    ("commands.bans", "bot.slack.poster", False),
    ("commands.bans", "bot.runtime.metrics", False),
    ("bot.core.dispatch", "bot.runtime.metrics", False),
    ("bot.slack.poster", "bot.runtime.logs", False),
    ("bot.slack.bolt", "bot.runtime.logs", True),
    ("bot.slack.bolt", "bot.runtime.metrics", True),
    ("bot.slack.bolt", "bot.runtime.callmod", False),
    ("bot.moderation.bans.book", "bot.slack.blocks", True),
    ("bot.moderation.bans.book", "bot.slack.bolt", False),
    ("bot.moderation.permission_requests", "bot.runtime.logs", False),
    ("bot.runtime.callmod", "bot.slack.bolt", True),
]


@pytest.mark.parametrize(("importer", "target", "allowed"), RULE_EXAMPLES)
def test_rule_table(importer: str, target: str, allowed: bool) -> None:
    found = forbidden_edges({importer: [Import(target, 1)]})
    assert (found == []) is allowed, found


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_scan_resolves_every_kind_of_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "bot/__init__.py": "__version__ = '1'\n",
            "bot/settings.py": "",
            "bot/slack/__init__.py": "",
            "bot/slack/blocks.py": "",
            "bot/stream/__init__.py": "from bot.stream.models import CallRef\n",
            "bot/stream/models.py": "from bot import __version__\n",
            "bot/core/__init__.py": "",
            "bot/core/dispatch.py": "import bot.core.registry\n",
            "bot/core/registry.py": (
                "from typing import TYPE_CHECKING\n"
                "import json\n"
                "from bot.slack import blocks\n"
                "from bot.stream import CallRef\n"
                "if TYPE_CHECKING:\n"
                "    from bot.core.dispatch import ActionContext\n"
                "else:\n"
                "    from . import parsing\n"
                "def later() -> None:\n"
                "    from ..settings import Settings\n"
                "    import bot.slack.blocks as b\n"
            ),
            "bot/core/parsing.py": "from .. import settings\nfrom ..slack.blocks import code\n",
            "commands/__init__.py": "from commands import calls\n",
            "commands/calls.py": "from bot.core import registry, dispatch\n",
        },
    )

    found = scan(tmp_path)

    assert {m: [(i.target, i.line, i.how) for i in imports] for m, imports in found.items()} == {
        "bot": [],
        "bot.settings": [],
        "bot.slack": [],
        "bot.slack.blocks": [],
        "bot.stream": [("bot.stream.models", 1, "")],
        "bot.stream.models": [("bot", 1, "")],
        "bot.core": [],
        "bot.core.dispatch": [("bot.core.registry", 1, "")],
        "bot.core.registry": [
            ("bot.slack.blocks", 3, ""),
            ("bot.stream", 4, ""),
            ("bot.core.dispatch", 6, "type-only"),
            ("bot.core.parsing", 8, ""),
            ("bot.settings", 10, "in a function"),
            ("bot.slack.blocks", 11, "in a function"),
        ],
        "bot.core.parsing": [("bot.settings", 1, ""), ("bot.slack.blocks", 2, "")],
        "commands": [("commands.calls", 1, "")],
        "commands.calls": [("bot.core.registry", 1, ""), ("bot.core.dispatch", 1, "")],
    }
    assert find_cycles(found) == [["bot.core.dispatch", "bot.core.registry", "bot.core.dispatch"]]
