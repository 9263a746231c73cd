"""Layers hold: no module-level import cycles anywhere in tirui (function-level and type-level
imports count: they only hide a cycle), and the domain packages never import Textual (also checked by the
import-linter contracts in pyproject.toml, which `make test` runs)."""

from __future__ import annotations

import grimp


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph("tirui", exclude_type_checking_imports=False)
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append(f"{module} -> {' -> '.join(back)}")
    assert cycles == []


def test_domain_modules_do_not_import_textual() -> None:
    graph = grimp.build_graph("tirui", "textual", exclude_type_checking_imports=True)
    domain = ("tirui.core", "tirui.storage", "tirui.cluster", "tirui.torchserve", "tirui.metrics")
    offenders = [
        m
        for m in graph.modules
        if m.startswith(domain) and graph.find_shortest_chain(importer=m, imported="textual")
    ]
    assert offenders == []
