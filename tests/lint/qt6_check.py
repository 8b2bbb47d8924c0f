"""Flags Python that runs on QGIS 3 (Qt5/PyQt5) but breaks on QGIS 4 (Qt6/PyQt6).

    python tests/lint/qt6_check.py wrok_plugin tests/plugin tests/desktop

What it flags follows what QGIS's own migration script (scripts/pyqt5_to_pyqt6 in the QGIS
repository) rewrites or warns about: PyQt5 imports, `exec_()`, `QVariant.<type>` field types,
unscoped enums, enum names Qt6 removed, classes Qt6 removed or moved from QtWidgets to QtGui,
`qApp`, `QApplication.desktop()`, `activated[str]` and compiled resources. It also flags
`FlagAdvanced`, which QGIS 3.36 replaced by `Qgis.ProcessingParameterFlag.Advanced`.

Unscoped enums are found by looking the names up in QGIS's own bindings (PyQt5 on QGIS 3): an
attribute `Class.Member` whose value is a member of an enum `Class.Enum` must be written
`Class.Enum.Member`, the only form PyQt6 knows. That form works on QGIS 3.22 too.

A line that must keep an old name for old QGIS versions (behind a version or feature check)
ends with `# qt6-ok: <why>`. An import of a moved class from its Qt5 module is allowed inside
the `except ImportError:` fallback of a try that imports it from its Qt6 module.
"""

from __future__ import annotations

import argparse
import ast
import enum
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

PRAGMA = "# qt6-ok"

# Classes PyQt6 no longer has anywhere, and what replaces them.
REMOVED_CLASSES = {
    "QRegExp": "QRegularExpression",
    "QRegExpValidator": "QRegularExpressionValidator",
    "QDesktopWidget": "QScreen (QApplication.primaryScreen(), QWidget.screen())",
    "QStringRef": "str",
    "QTextCodec": "str.encode/bytes.decode",
    "QMatrix": "QTransform",
    "QGLWidget": "QOpenGLWidget",
    "QSound": "QSoundEffect",
    "QLinkedList": "list",
}
# Classes Qt6 moved from QtWidgets to QtGui.
MOVED_TO_QTGUI = {"QAction", "QActionGroup", "QShortcut", "QUndoCommand", "QUndoGroup", "QUndoStack",
                  "QFileSystemModel"}
# Enum members Qt6 removed under their old names.
RENAMED_ENUMS = {
    ("Qt", "MidButton"): "Qt.MouseButton.MiddleButton",
    ("Qt", "TextColorRole"): "Qt.ItemDataRole.ForegroundRole",
    ("Qt", "BackgroundColorRole"): "Qt.ItemDataRole.BackgroundRole",
    ("QPainter", "HighQualityAntialiasing"): "QPainter.RenderHint.Antialiasing",
}
BINDING_MODULES = ("qgis.core", "qgis.gui", "qgis.analysis", "qgis.PyQt.")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    col: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col + 1}: {self.code} {self.message}"


def _is_enum_member(value) -> bool:
    """A member of a PyQt5 sip enum (an int of a sip.enumtype class) or of a Python enum (PyQt6, QGIS 3.40)."""
    if isinstance(value, enum.Enum):
        return True
    return type(type(value)).__name__ == "enumtype"


def _handles_import_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(name, ast.Name) and name.id in ("ImportError", "ModuleNotFoundError") for name in names)


class _Checker(ast.NodeVisitor):
    def __init__(self, path: str, source: str):
        self.path = path
        self.lines = source.splitlines()
        self.findings: list[Finding] = []
        self.bound: dict[str, object] = {}  # local name -> the bindings' class it was imported as
        self.import_fallback_depth = 0

    def flag(self, node, code: str, message: str) -> None:
        line = self.lines[node.lineno - 1] if node.lineno <= len(self.lines) else ""
        if PRAGMA not in line:
            self.findings.append(Finding(self.path, node.lineno, node.col_offset, code, message))

    # imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in ("PyQt5", "PyQt6"):
                self.flag(node, "Q601", f"import {alias.name}: import Qt through qgis.PyQt")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.split(".")[0] in ("PyQt5", "PyQt6"):
            self.flag(node, "Q601", f"from {module} import ...: import Qt through qgis.PyQt")
        if module == "qgis.PyQt.Qt":
            self.flag(node, "Q604", "qgis.PyQt.Qt is gone in QGIS 4: import Qt from qgis.PyQt.QtCore")
        for alias in node.names:
            name = alias.name
            if name in REMOVED_CLASSES:
                self.flag(node, "Q604", f"{name} is removed in Qt6: use {REMOVED_CLASSES[name]}")
            elif name in MOVED_TO_QTGUI and module.endswith("QtWidgets") and not self.import_fallback_depth:
                self.flag(node, "Q605", f"{name} moved to QtGui in Qt6: import it from qgis.PyQt.QtGui "
                                        "(the Qt5 QtWidgets import only in an `except ImportError:` fallback)")
            elif name == "qApp":
                self.flag(node, "Q604", "qApp is removed in Qt6: use QApplication.instance()")
            elif name == "resources_rc":
                self.flag(node, "Q604", "compiled resources are removed in Qt6: load files by path")
            if module.startswith(BINDING_MODULES) and name != "*":
                try:
                    self.bound[alias.asname or name] = getattr(importlib.import_module(module), name)
                except (ImportError, AttributeError):
                    pass  # a name this QGIS lacks: the PyQt6 import test reports what QGIS 4 lacks
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        # `Number = QgsProcessingParameterNumber`: Number.Double is then QgsProcessingParameterNumber.Double
        if isinstance(node.value, ast.Name) and node.value.id in self.bound:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.bound[target.id] = self.bound[node.value.id]
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        for child in node.body + node.orelse + node.finalbody:
            self.visit(child)
        for handler in node.handlers:
            fallback = _handles_import_error(handler)
            self.import_fallback_depth += fallback
            self.visit(handler)
            self.import_fallback_depth -= fallback

    # names, attributes, calls
    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "qApp":
            self.flag(node, "Q604", "qApp is removed in Qt6: use QApplication.instance()")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name == "exec_":
            self.flag(node, "Q602", "def exec_: PyQt6 calls exec()")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "exec_":
            self.flag(node, "Q602", "exec_() is removed in PyQt6: call exec()")
        elif node.attr == "FlagAdvanced":
            self.flag(node, "Q606", "FlagAdvanced is deprecated since QGIS 3.36: use Qgis.ProcessingParameterFlag.Advanced "
                                    "(wrok_plugin.compat.PARAMETER_ADVANCED)")
        elif isinstance(node.value, ast.Name):
            self._check_class_attribute(node, node.value.id)
        elif isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name):
            self._check_scoped_exists(node)
        self.generic_visit(node)

    def _check_class_attribute(self, node: ast.Attribute, owner: str) -> None:
        if owner == "QVariant" and node.attr[:1].isupper():
            self.flag(node, "Q603", f"QVariant.{node.attr}: PyQt6 has no QVariant types; use QMetaType.Type "
                                    "(wrok_plugin.compat.FieldType)")
            return
        if (owner, node.attr) in RENAMED_ENUMS:
            self.flag(node, "Q607", f"{owner}.{node.attr} is removed in Qt6: use {RENAMED_ENUMS[owner, node.attr]}")
            return
        cls = self.bound.get(owner)
        if cls is None or not isinstance(cls, type):
            return
        value = getattr(cls, node.attr, None)
        if value is None or isinstance(value, type) or not _is_enum_member(value):
            return
        enum_type = type(value)
        if cls is enum_type:
            return
        enum_name = getattr(value, "name", node.attr)  # Python enums (QGIS's Qgis.*) may rename the member
        candidates = [(f"{owner}.{enum_type.__name__}.{node.attr}", getattr(cls, enum_type.__name__, None), node.attr),
                      (f"{enum_type.__qualname__}.{enum_name}", enum_type, enum_name)]
        scoped = next((text for text, holder, member in candidates
                       if holder is not None and getattr(holder, member, None) == value), candidates[-1][0])
        self.flag(node, "Q608", f"unscoped enum {owner}.{node.attr}: write {scoped}")

    def _check_scoped_exists(self, node: ast.Attribute) -> None:
        """`Class.Enum.Member` that this QGIS does not have: a mistyped or wrongly scoped enum."""
        owner = node.value.value.id
        cls = self.bound.get(owner)
        if cls is None:
            return
        holder = getattr(cls, node.value.attr, None)
        if holder is not None and not hasattr(holder, node.attr):
            self.flag(node, "Q609", f"{owner}.{node.value.attr}.{node.attr} does not exist in this QGIS "
                                    f"(mark a line meant for other QGIS versions {PRAGMA})")

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Attribute) and node.func.attr == "desktop" and not node.args:
            self.flag(node, "Q604", "QApplication.desktop() (QDesktopWidget) is removed in Qt6: use QScreen")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if (isinstance(node.value, ast.Attribute) and node.value.attr == "activated"
                and isinstance(node.slice, ast.Name) and node.slice.id == "str"):
            self.flag(node, "Q604", "activated[str] is removed in Qt6: use textActivated")
        self.generic_visit(node)


def _require_bindings() -> None:
    """Without QGIS's bindings no unscoped enum would be found: refuse rather than pass."""
    try:
        importlib.import_module("qgis.core")
        importlib.import_module("qgis.PyQt.QtCore")
    except ImportError as error:
        raise SystemExit(f"qt6_check needs QGIS's Python bindings (python3-qgis) to find unscoped enums: {error}") from error


def check_source(source: str, path: str = "<snippet>") -> list[Finding]:
    _require_bindings()
    checker = _Checker(path, source)
    checker.visit(ast.parse(source, filename=path))
    return sorted(checker.findings, key=lambda f: (f.line, f.col, f.code))


def python_files(paths) -> list[Path]:
    files = []
    for path in map(Path, paths):
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return [file for file in files if "__pycache__" not in file.parts]


def check_paths(paths) -> list[Finding]:
    return [finding for file in python_files(paths)
            for finding in check_source(file.read_text(encoding="utf-8"), str(file))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    findings = check_paths(parser.parse_args(argv).paths)
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} Qt6/QGIS 4 problem(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
