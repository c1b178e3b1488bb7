"""dora-ros uses the public APIs of the libraries it builds on, never their private names.

Project rule (docs/architecture.md, STYLE.md "Public APIs only"): a private function, module or
attribute of another library can change or vanish in any release, and the code that leaned on one
(``cyclonedds._clayer``'s C calls, Arrow C structs written through ctypes) was the code that broke.
This walks the AST of every module of ``dora_ros`` and names each use of a private name (``_x``,
not ``__dunder__``) of cyclonedds, rclpy, pyarrow or zenoh:

- ``import cyclonedds._clayer``, ``from cyclonedds._clayer import f``, ``from cyclonedds import
  _clayer``;
- an attribute ``._x`` anywhere in a chain that starts at a name bound by such an import
  (``pa.lib._foo``, ``idl._main``), also as ``getattr(pa.lib, "_foo")``;
- in a class derived from one of their classes: a method that overrides a private method of the
  base (found by importing the base), and ``super()._x``.

What it cannot see: a private attribute of an *object* the library returned (``writer._ref``), or
one a subclass inherits as instance state (``self._result_futures``); reviews catch those. Both
modules that broke the rule until session 8 (cyclone_backend.py's ``_clayer`` calls,
rclpy_actions.py's ActionServer overrides) fail ``test_module_uses_public_apis_only`` at b1ebe04.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest

LIBRARIES = ("cyclonedds", "rclpy", "pyarrow", "zenoh")
PACKAGE = Path(__file__).resolve().parents[1] / "dora_ros"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _library(dotted: str) -> bool:
    return dotted.split(".")[0] in LIBRARIES


def _resolve(dotted: str) -> Any:
    """The object a dotted library path names (its longest importable module, then attributes),
    or None if it cannot be imported here."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


class _Checker(ast.NodeVisitor):
    def __init__(self, where: str) -> None:
        self.where = where
        self.found: list[str] = []
        self.bound: dict[str, str] = {}  # local name -> the library path it names

    def report(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.where}:{getattr(node, 'lineno', 0)}: {what}")

    # --- imports: bind names, refuse private modules and names ---

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not _library(alias.name):
                continue
            if any(_private(part) for part in alias.name.split(".")):
                self.report(node, f"imports private module {alias.name}")
            if alias.asname:
                self.bound[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                self.bound[root] = root

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or not _library(module):
            return
        if any(_private(part) for part in module.split(".")):
            self.report(node, f"imports from private module {module}")
        for alias in node.names:
            if _private(alias.name):
                self.report(node, f"imports private name {alias.name} from {module}")
            self.bound[alias.asname or alias.name] = f"{module}.{alias.name}"

    # --- attributes of library names ---

    def _path(self, node: ast.expr) -> str | None:
        """The library path an expression names (`pa.lib.Table`), or None."""
        if isinstance(node, ast.Name):
            return self.bound.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._path(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = self._path(node.value)
        if base is not None and _private(node.attr):
            self.report(node, f"uses private attribute {base}.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        # getattr(pa.lib, "_foo"): the same attribute, spelled as a string
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            base = self._path(node.args[0])
            if base is not None:
                self.report(node, f"uses private attribute {base}.{node.args[1].value}")
        self.generic_visit(node)

    # --- subclasses of library classes ---

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = [(path, _resolve(path)) for b in node.bases if (path := self._path(b))]
        if bases:
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _private(item.name):
                    for path, cls in bases:
                        if cls is not None and hasattr(cls, item.name):
                            self.report(item, f"overrides private {path}.{item.name}")
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Attribute)
                    and _private(sub.attr)
                    and isinstance(sub.value, ast.Call)
                    and isinstance(sub.value.func, ast.Name)
                    and sub.value.func.id == "super"
                ):
                    self.report(sub, f"calls private super().{sub.attr} of {bases[0][0]}")
        self.generic_visit(node)


def private_uses(source: str, where: str = "<string>") -> list[str]:
    """Every use of a private name of `LIBRARIES` in `source`, as 'where:line: what'."""
    tree = ast.parse(source)
    checker = _Checker(where)
    # Twice: the first walk binds every import wherever it is (functions import lazily, and a
    # name bound in one function may be used in another), the second reports.
    checker.visit(tree)
    checker.found.clear()
    checker.visit(tree)
    return sorted(set(checker.found))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_module_uses_public_apis_only(path: Path) -> None:
    rel = path.relative_to(PACKAGE).as_posix()
    assert private_uses(path.read_text(), f"dora_ros/{rel}") == []


def test_there_are_modules_to_check() -> None:
    assert len(MODULES) > 50 and PACKAGE / "bridge" / "cyclone_backend.py" in MODULES


# --- the checker itself: every kind of use it claims to find, and nothing in clean code ------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import cyclonedds._clayer\n", "imports private module cyclonedds._clayer"),
        ("import rclpy._rclpy_pybind11 as r\n", "imports private module rclpy._rclpy_pybind11"),
        ("from cyclonedds._clayer import ddspy_write\n", "from private module cyclonedds._clayer"),
        ("from cyclonedds import _clayer\n", "imports private name _clayer from cyclonedds"),
        ("import pyarrow as pa\nx = pa.lib._foo\n", "uses private attribute pyarrow.lib._foo"),
        (
            "import pyarrow\nf = getattr(pyarrow.lib, '_foo', None)\n",
            "uses private attribute pyarrow.lib._foo",
        ),
        (
            "def f():\n    from cyclonedds import idl\n    return idl._main.IDL\n",
            "uses private attribute cyclonedds.idl._main",
        ),
        (
            "from rclpy.node import Node\nclass N(Node):\n    def _apply_descriptor(self): pass\n",
            "overrides private rclpy.node.Node._apply_descriptor",
        ),
        (
            "from rclpy.node import Node\nclass N(Node):\n"
            "    def go(self):\n        return super()._anything()\n",
            "calls private super()._anything of rclpy.node.Node",
        ),
    ],
)
def test_checker_finds_private_uses(source: str, expected: str) -> None:
    found = private_uses(source)
    assert any(expected in line for line in found), found


def test_checker_passes_public_code() -> None:
    source = (
        "import pyarrow as pa\nfrom cyclonedds.pub import DataWriter\nimport os\n"
        "from rclpy.node import Node\n"
        "class N(Node):\n    def _own_helper(self): return super().get_name()\n"
        "x = pa.array([1]).__len__()\nw = DataWriter\nos._exit\n"
        "class Mine:\n    def _private(self): return self._x\n"
    )
    assert private_uses(source) == []
