"""The packages' module-level imports form no cycle: each module can be read on its own, and layers stay layered
(the Lambda layers never import the local stack or the operations package)."""

from __future__ import annotations

import ast
import graphlib
import shutil
from pathlib import Path

from batchrecs_local.template import ROOT

PACKAGES = {
    "batchrecs": ROOT / "layers/batchrecs/batchrecs",
    "scorer": ROOT / "layers/scorer/scorer",
    "batchrecs_local": ROOT / "local/batchrecs_local",
    "batchrecs_ops": ROOT / "ops/batchrecs_ops",
    "batchrecs_cli": ROOT / "cli/batchrecs_cli",
}


def module_name(package: str, root: Path, path: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports() -> dict[str, set[str]]:
    """Module → the project modules it imports when it is imported (not inside functions, not for type checking)."""
    modules = {
        module_name(package, root, path): path for package, root in PACKAGES.items() for path in root.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        found: set[str] = set()
        for node in tree.body:  # module level only: imports inside functions run later, by design
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            for child in ast.walk(node) if not isinstance(node, ast.FunctionDef | ast.ClassDef) else []:
                targets = []
                if isinstance(child, ast.Import):
                    targets = [alias.name for alias in child.names]
                elif isinstance(child, ast.ImportFrom) and child.module:
                    targets = [child.module] + [f"{child.module}.{alias.name}" for alias in child.names]
                found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def test_no_module_imports_itself_through_others() -> None:
    graphlib.TopologicalSorter(module_imports()).prepare()  # raises CycleError naming the cycle


def test_the_layers_never_import_the_local_stack_or_the_operations() -> None:
    for module, imported in module_imports().items():
        if module.split(".")[0] in ("batchrecs", "scorer"):
            assert not {i for i in imported if i.split(".")[0] in ("batchrecs_local", "batchrecs_ops", "batchrecs_cli")}
        if module.split(".")[0] == "batchrecs_local":  # the embedded stack, only: the CLI and operations use it
            assert not {i for i in imported if i.split(".")[0] in ("batchrecs_ops", "batchrecs_cli")}, module


# The layering rules, as a table: a module of the left-hand kind never imports, at any level (type-only and
# in-function imports included), a module of a kind on the right. functions/*/app.py are the composition roots:
# they import anything.
USE_CASES = frozenset(
    {
        "batchrecs.outcomes",
        "batchrecs.folder_drops",
        "batchrecs.create_job",
        "batchrecs.merge",
        "batchrecs.submit",
        "batchrecs.output_count",
    }
)
RULES: dict[str, frozenset[str]] = {
    "use case": frozenset({"adapter"}),
    "port": frozenset({"adapter", "use case"}),
    "pure": frozenset({"adapter", "use case", "port"}),
    "adapter": frozenset({"use case"}),
    "scorer": frozenset({"adapter", "use case", "port"}),
}


def kind(module: str) -> str | None:
    """A layer module's kind in RULES' terms (None: not a layer module)."""
    if module.startswith("scorer"):
        return "scorer"
    if module.startswith("batchrecs.adapters."):
        return "adapter"
    if module in USE_CASES or module.startswith("batchrecs.submit."):
        return "use case"
    if module == "batchrecs.ports":
        return "port"
    if module.startswith("batchrecs.") and module != "batchrecs.adapters":
        return "pure"
    return None


def every_import(roots: dict[str, Path]) -> dict[str, set[str]]:
    """Module → every layer module it imports, wherever the import stands."""
    modules = {module_name(package, root, path): path for package, root in roots.items() for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def breaches(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} ({kind(module)}) imports {imported} ({kind(imported)})"
        for module, imported_set in graph.items()
        for imported in imported_set
        if kind(module) in RULES and kind(imported) in RULES[kind(module) or ""]
    )


LAYERS = {"batchrecs": PACKAGES["batchrecs"], "scorer": PACKAGES["scorer"]}


def test_the_layers_keep_the_import_rules() -> None:
    graph = every_import(LAYERS)
    assert {kind(m) for m in graph} >= set(RULES), "every kind the table names has modules"
    assert breaches(graph) == []


def test_a_planted_breach_of_each_rule_is_named(tmp_path: Path) -> None:
    # Given a copy of the layers, with one forbidden import planted for each rule of the table
    roots = {package: tmp_path / package for package in LAYERS}
    for package, root in LAYERS.items():
        shutil.copytree(root, roots[package], ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    planted = {
        "batchrecs/submit/file.py": "batchrecs.adapters.s3",
        "batchrecs/ports.py": "batchrecs.outcomes",
        "batchrecs/naming.py": "batchrecs.ports",
        "batchrecs/adapters/ledger.py": "batchrecs.outcomes",
        "scorer/score.py": "batchrecs.adapters.s3",
    }
    for path, target in planted.items():
        source = tmp_path / path
        source.write_text(source.read_text() + f"\n\ndef _planted() -> None:\n    import {target}  # noqa\n")
    # Then the test's check names each of them, and nothing else
    found = breaches(every_import(roots))
    assert len(found) == len(planted), found
    assert {line.split(" ", 1)[0] for line in found} == {
        "batchrecs.submit.file",
        "batchrecs.ports",
        "batchrecs.naming",
        "batchrecs.adapters.ledger",
        "scorer.score",
    }
