"""The package's folders follow the data (README "How it is built"): each layer imports only the layers below
it, and no module imports itself back through others. Checked on the real import graph (grimp), so a new
upward import or circle fails here, with the chain that makes it."""

from __future__ import annotations

import grimp
import pytest

# Top to bottom: spec -> plan -> stage execution -> results store -> scores, analyses, report, and the command
# line over all of it. A layer may import any layer below it, never one above.
LAYERS = (
    "xstilts.cli",
    "xstilts.similarity_command",  # `xstilts similarity`: computes (similarity/) and prints report/'s table cells
    "xstilts.report",
    "xstilts.similarity",
    "xstilts.analysis",  # the statistics both analyses use (bootstrap, permutation and sign-flip tests, comparisons)
    "xstilts.scores",
    "xstilts.launch",
    "xstilts.experiment",
    "xstilts.training",
    "xstilts.encoders",
    "xstilts.spec",
    "xstilts.data",
    "xstilts.formats",
    "xstilts.metrics",
    "xstilts.tasks",
    "xstilts.errors",
)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("xstilts", include_external_packages=False)


def test_every_module_sits_in_a_layer(graph: grimp.ImportGraph):
    outside = {
        m
        for m in graph.modules
        if m != "xstilts" and not any(m == layer or m.startswith(layer + ".") for layer in LAYERS)
    }
    assert not outside, f"modules in no layer of tests/test_architecture.py: {sorted(outside)}"


def test_no_layer_imports_a_layer_above_it(graph: grimp.ImportGraph):
    illegal = graph.find_illegal_dependencies_for_layers(layers=LAYERS, containers=set())
    chains = sorted(
        f"{d.importer} -> {d.imported}: "
        + " | ".join(" -> ".join([",".join(sorted(r.heads)), *r.middle, ",".join(sorted(r.tails))]) for r in d.routes)
        for d in illegal
    )
    assert not chains, "upward imports:\n" + "\n".join(chains)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_circles(graph: grimp.ImportGraph):
    # A package's __init__ re-exporting its submodules is the one accepted way back up (formats, tasks, ...):
    # the edge from a submodule to its own package is left out.
    for module in list(graph.modules):
        for imported in list(graph.find_modules_directly_imported_by(module)):
            if module.startswith(imported + "."):
                graph.remove_import(importer=module, imported=imported)
    assert _cycles(graph) == []


def test_the_check_sees_an_upward_import():
    """The layer check can fail: an import from the store up to the report is reported."""
    graph = grimp.build_graph("xstilts", include_external_packages=False)
    graph.add_import(importer="xstilts.experiment.store", imported="xstilts.report.document")
    illegal = graph.find_illegal_dependencies_for_layers(layers=LAYERS, containers=set())
    assert {(d.importer, d.imported) for d in illegal} >= {("xstilts.experiment", "xstilts.report")}


def test_the_report_and_the_similarity_analysis_do_not_import_each_other(graph):
    """They share only what lies below them (xstilts.analysis): either can change without the other."""
    for a, b in (("xstilts.report", "xstilts.similarity"), ("xstilts.similarity", "xstilts.report")):
        assert not graph.find_shortest_chain(importer=a, imported=b, as_packages=True), f"{a} imports {b}"
