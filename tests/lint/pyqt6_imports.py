"""Imports every module of a plugin package the way QGIS 4 would offer Qt: qgis.PyQt is PyQt6.

    python tests/lint/pyqt6_imports.py <folder holding the package> <package name>

No QGIS 4 is needed. `qgis.PyQt.QtCore`, `.QtGui`, ... are PyQt6's own modules (QGIS 4 re-exports
PyQt6 there); `qgis.core`, `qgis.gui`, `qgis.utils`, `qgis.analysis` and `processing` are
permissive stand-ins that have every name, with `Qgis.versionInt()` answering 4.0. PyQt5 cannot
be imported at all. Every module is imported, then every `Name.attr.attr...` chain on a name
imported from qgis.PyQt is looked up in PyQt6. Prints one JSON list of problems; exit 1 if any.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
import traceback
import types
from pathlib import Path

from qt6_check import PRAGMA  # the same mark for lines meant for other QGIS versions

QT_MODULES = ("QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtXml", "QtSvg", "QtSql", "QtPrintSupport", "QtTest")
QGIS_4_VERSION_INT = 40000


class _Qgis4Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """QGIS 4 has no PyQt5, qgis.PyQt.X is PyQt6.X, and qgis.* / processing.* submodules are stand-ins."""

    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top == "PyQt5":
            raise ImportError(f"{name} does not exist on QGIS 4 (Qt6)")
        if top in ("qgis", "processing"):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        if spec.name.startswith("qgis.PyQt."):
            return importlib.import_module("PyQt6." + spec.name.split(".", 2)[2])
        module = _StandInModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


class _StandInType(type):
    """Any attribute of a stand-in class is another stand-in class: Qgis.MessageLevel.Info, QgsProcessing..."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _stand_in(f"{cls.__name__}.{name}")

    def __or__(cls, other):
        return cls

    __ror__ = __and__ = __rand__ = __or__


def _stand_in(name: str) -> type:
    return _StandInType(name.rsplit(".", 1)[-1], (), {"__init__": lambda self, *args, **kwargs: None,
                                                       "__getattr__": lambda self, attr: _stand_in(attr)})


class _StandInModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _stand_in(name)
        setattr(self, name, value)
        return value


def install_qgis4_shims() -> None:
    sys.meta_path.insert(0, _Qgis4Finder())
    from PyQt6 import sip  # qt6-ok: these shims are PyQt6 itself, as qgis.PyQt is on QGIS 4

    qgis = types.ModuleType("qgis")
    qgis.__path__ = []
    qt = types.ModuleType("qgis.PyQt")
    qt.__path__ = []
    qt.sip = sip
    sys.modules.update({"qgis": qgis, "qgis.PyQt": qt, "qgis.PyQt.sip": sip})
    qgis.PyQt = qt
    for name in QT_MODULES:
        module = importlib.import_module(f"PyQt6.{name}")
        sys.modules[f"qgis.PyQt.{name}"] = module
        setattr(qt, name, module)
    for name in ("core", "gui", "utils", "analysis", "processing"):
        setattr(qgis, name, importlib.import_module(f"qgis.{name}"))
    core = sys.modules["qgis.core"]
    core.Qgis = _stand_in("Qgis")
    core.Qgis.versionInt = staticmethod(lambda: QGIS_4_VERSION_INT)
    core.Qgis.QGIS_VERSION_INT = QGIS_4_VERSION_INT
    core.Qgis.QGIS_VERSION = "4.0.0"


def _qt_names(tree: ast.Module) -> set:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qgis.PyQt"):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _chains(tree: ast.Module, roots: set):
    """Pure attribute chains `Root.a.b` (the longest one at each place) on the given root names."""
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            inner.add(id(node.value))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or id(node) in inner:
            continue
        parts, current = [], node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if isinstance(current, ast.Name) and current.id in roots:
            yield node.lineno, current.id, list(reversed(parts))


def check_package(folder: Path, package: str) -> list:
    problems = []
    sys.path.insert(0, str(folder))
    for path in sorted((folder / package).rglob("*.py")):
        relative = path.relative_to(folder).with_suffix("")
        name = ".".join(part for part in relative.parts if part != "__init__")
        where = str(path.relative_to(folder))
        try:
            module = importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - every failure is a finding
            frame = traceback.extract_tb(error.__traceback__)[-1]
            problems.append(f"{where}: import fails on PyQt6: {type(error).__name__}: {error} "
                            f"({Path(frame.filename).name}:{frame.lineno})")
            continue
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source)
        for lineno, root, parts in _chains(tree, _qt_names(tree)):
            if PRAGMA in lines[lineno - 1]:
                continue
            value = getattr(module, root, None)
            for depth, part in enumerate(parts):
                if not hasattr(value, part):
                    problems.append(f"{where}:{lineno}: {'.'.join([root, *parts[:depth + 1]])} "
                                    "does not exist in PyQt6")
                    break
                value = getattr(value, part)
    return problems


if __name__ == "__main__":
    if importlib.util.find_spec("PyQt6") is None:
        sys.exit("pyqt6_imports needs PyQt6 (pinned in requirements-dev.txt: make setup installs it)")
    install_qgis4_shims()
    found = check_package(Path(sys.argv[1]).resolve(), sys.argv[2])
    print(json.dumps(found, indent=1))
    sys.exit(1 if found else 0)
