"""The packages' module-level imports form no cycle: each module can be read on its own, and layers stay layered
(the Lambda layers never import the local stack or the operations package)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

from batchrecs_local.template import ROOT

PACKAGES = {
    "batchrecs": ROOT / "layers/batchrecs/batchrecs",
    "scorer": ROOT / "layers/scorer/scorer",
    "batchrecs_local": ROOT / "local/batchrecs_local",
    "batchrecs_ops": ROOT / "ops/batchrecs_ops",
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
            assert not {i for i in imported if i.split(".")[0] in ("batchrecs_local", "batchrecs_ops")}, module
