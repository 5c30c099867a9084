"""The import structure: no import circle (module-level, function-local or through importlib), and
no package imports one above it (utils at the bottom, the Python API and the entry points on top)."""
import ast
import collections
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

from conftest import ROOT

# each top-level package may import only packages of a lower rank
# (training and evaluation in engine, deployment in deploy: neither imports the other)
RANKS = {"utils": 0, "cvnets": 1, "loss_fn": 1, "metrics": 1, "optim": 1, "data": 2, "options": 3, "engine": 4,
         "deploy": 4, "parcnet": 5, "main_train": 6, "eval_cls": 6, "eval_det": 6, "eval_seg": 6, "main_benchmark": 6,
         "main_export": 6, "hubconf": 6}


def project_modules() -> Dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in (".venv", "tests", "build", "docs") or "generated" in rel.parts:
            continue
        name = ".".join(rel.with_suffix("").parts)
        modules[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return modules


def imported_names(name: str, path: Path) -> List[str]:
    """Every module name ``path`` imports anywhere in its code, ``importlib.import_module`` included."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")[:len(name.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join(parts + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            names.append(str(node.args[0].value))
    return names


def import_graph() -> Dict[str, Set[str]]:
    modules = project_modules()

    def resolve(target: str) -> str:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target

    graph = collections.defaultdict(set)
    for name, path in modules.items():
        for target in map(resolve, imported_names(name, path)):
            if target and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_lazy_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle():
    assert cycles(import_graph()) == []


def test_no_package_imports_one_above_it():
    upward = sorted(f"{name} imports {target}" for name, targets in import_graph().items() for target in targets
                    if name.split(".")[0] in RANKS and target.split(".")[0] in RANKS
                    and RANKS[target.split(".")[0]] >= RANKS[name.split(".")[0]]
                    and target.split(".")[0] != name.split(".")[0])
    assert upward == []


ENTRY_SCRIPTS = ("main_train", "eval_cls", "eval_det", "eval_seg", "main_benchmark", "main_export")


def test_entry_scripts_are_thin_and_import_nothing_heavy_at_load():
    """Each entry script parses, calls one engine or deploy function and reports: short, and
    importing it loads neither torch nor the project's packages (they are imported inside main())."""
    for name in ENTRY_SCRIPTS:
        assert len((ROOT / f"{name}.py").read_text().splitlines()) < 80, name
    code = (f"import sys; import {', '.join(ENTRY_SCRIPTS)}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'cvnets', 'data', 'engine', "
            "'deploy', 'options', 'parcnet')))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"
