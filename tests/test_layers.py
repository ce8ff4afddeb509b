"""The layers hold: core (base) -> domain packages (teachers, students, eval, factory.data) -> orchestration (factory).

Checked on the real import graph (grimp builds it from the source; import-linter reads its contracts from
pyproject.toml, as `lint-imports` does). Why it matters: a base module that imports orchestration drags torch
and the whole factory into every worker, and an import cycle makes import order decide whether a name exists
yet. Lazy imports inside functions count: they are cycles too, deferred to run time.
The layering is documented in docs/architecture.md ("Layers").
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import grimp
import pytest
import importlinter.api  # noqa: F401 - sets up import-linter's settings, as its CLI does
from importlinter.application import use_cases

from tests.conftest import REPO

PACKAGES = ("core", "factory", "teachers", "students", "eval")
DOMAIN = ("teachers", "students", "eval", "factory.data")
# What a stage implementation may use from factory: the stage contract (StageContext, stage_function) and the
# shared console/progress bar. Both must stay free of orchestration; contract 2 checks that through them.
STAGE_API = {"factory.stages", "factory.progress"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    for pkg in PACKAGES:
        spec = importlib.util.find_spec(pkg)
        assert spec is not None, f"package '{pkg}' not found: the base layer lives in core/ (see docs/architecture.md)"
        origin = Path(spec.submodule_search_locations[0]).resolve()
        assert origin == REPO / pkg, f"'{pkg}' is imported from {origin}, not this checkout: set PYTHONPATH={REPO}"
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def line(graph, importer: str, imported: str) -> str:
    numbers = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
    return f"{importer} -> {imported} (line {', '.join(map(str, numbers))})"


def test_import_linter_contracts(capsys):
    """pyproject's [tool.importlinter] contracts: core imports nothing of the project; domain packages never
    import orchestration (runner, scheduler, cli, graph, estimate, recipe...), not even through another module."""
    # The use case, not importlinter.cli.lint_imports: the CLI function reconfigures logging for the whole
    # process (dictConfig disables every logger that exists), which would silence later tests' loggers.
    kept = use_cases.lint_imports(config_filename=str(REPO / "pyproject.toml"), cache_dir=None, no_logo=True)
    assert kept, "import-linter contracts broken:\n" + capsys.readouterr().out


def test_domain_packages_reach_factory_only_through_the_stage_api(graph):
    """Also for modules no contract names yet (new executors, ...): a domain module imports core, its own
    and sibling domain packages, and from factory only factory.data and the stage API."""
    bad = sorted(line(graph, m, w) for m in graph.modules if m.startswith(DOMAIN) or m in DOMAIN
                 for w in graph.find_modules_directly_imported_by(m)
                 if w.split(".")[0] == "factory" and w != "factory" and w not in STAGE_API
                 and not w.startswith("factory.data"))
    assert bad == [], "domain module imports factory orchestration:\n  " + "\n  ".join(bad)


def strongly_connected(graph) -> list[list[str]]:
    """Tarjan's algorithm over module -> directly imported module; components of 2+ modules are cycles."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph.modules)))

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on_stack.discard(comp[-1])
            if len(comp) > 1:
                found.append(sorted(comp))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_import_cycles(graph):
    """No module imports itself through others. The message lists each cycle's imports with their lines."""
    cycles = strongly_connected(graph)
    report = []
    for comp in cycles:
        members = set(comp)
        edges = [line(graph, m, w) for m in comp for w in sorted(graph.find_modules_directly_imported_by(m))
                 if w in members]
        report.append(f"cycle among {', '.join(comp)}:\n    " + "\n    ".join(edges))
    assert cycles == [], f"{len(cycles)} import cycle(s):\n  " + "\n  ".join(report)


def test_cycle_finder_finds_a_cycle():
    """The checker itself: a two-module cycle and a three-module one are found, an acyclic import is not."""
    g = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.a"), ("p.c", "p.d"), ("p.d", "p.e"), ("p.e", "p.c"), ("p.f", "p.a")]:
        g.add_import(importer=a, imported=b)
    assert strongly_connected(g) == [["p.a", "p.b"], ["p.c", "p.d", "p.e"]]
