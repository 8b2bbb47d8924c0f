"""QGIS 4 / Qt6 readiness without a QGIS 4: the static checker (qt6_check.py) and PyQt6 imports (pyqt6_imports.py)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .qt6_check import check_paths, check_source

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHECKED = ["wrok_plugin", "tests/plugin", "tests/desktop", "tests/lint"]

BAD_SNIPPETS = {
    "from PyQt5.QtCore import Qt": "Q601",
    "import PyQt5.QtWidgets": "Q601",
    "from PyQt6.QtCore import Qt": "Q601",
    "dialog.exec_()": "Q602",
    "class Dialog:\n    def exec_(self):\n        pass": "Q602",
    "from qgis.PyQt.QtCore import QVariant\nkind = QVariant.Int": "Q603",
    "from qgis.core import QgsField\nfrom qgis.PyQt.QtCore import QVariant\nfield = QgsField('a', QVariant.Double)": "Q603",
    "from qgis.PyQt.QtCore import QRegExp": "Q604",
    "from qgis.PyQt.QtWidgets import QDesktopWidget": "Q604",
    "from qgis.PyQt.QtWidgets import qApp": "Q604",
    "size = QApplication.desktop().screenGeometry()": "Q604",
    "combo.activated[str].connect(slot)": "Q604",
    "from qgis.PyQt.Qt import Qt": "Q604",
    "from qgis.PyQt.QtWidgets import QAction": "Q605",
    "from qgis.PyQt.QtWidgets import QShortcut, QPushButton": "Q605",
    "from qgis.core import QgsProcessingParameterDefinition\n"
    "flag = QgsProcessingParameterDefinition.FlagAdvanced": "Q606",
    "from qgis.PyQt.QtCore import Qt\nbutton = Qt.MidButton": "Q607",
    "from qgis.PyQt.QtCore import Qt\nalign = Qt.AlignLeft": "Q608",
    "from qgis.PyQt.QtCore import Qt as QtNamespace\nalign = QtNamespace.AlignRight": "Q608",
    "from qgis.PyQt.QtWidgets import QDialogButtonBox\nbuttons = QDialogButtonBox.Ok": "Q608",
    "from qgis.core import Qgis\nlevel = Qgis.Critical": "Q608",
    "from qgis.core import QgsPalLayerSettings\nplacement = QgsPalLayerSettings.OverPoint": "Q608",
    "from qgis.core import QgsProcessingParameterNumber\nNumber = QgsProcessingParameterNumber\nkind = Number.Double": "Q608",
    # a scoped name no QGIS has (QgsCoordinateTransform.TransformDirection.ReverseTransform, missing on 3.22, exists
    # on 3.40, so it would make this case depend on the QGIS it runs on)
    "from qgis.core import Qgis\nlevel = Qgis.MessageLevel.Critcal": "Q609",
}

GOOD_SNIPPETS = [
    "from qgis.PyQt.QtCore import Qt\nalign = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop",
    "dialog.exec()",
    "from qgis.core import Qgis, QgsPalLayerSettings, QgsWkbTypes\n"
    "level = Qgis.MessageLevel.Critical\nplacement = QgsPalLayerSettings.Placement.OverPoint\n"
    "polygon = QgsWkbTypes.GeometryType.PolygonGeometry",
    "try:\n    from qgis.PyQt.QtGui import QAction\nexcept ImportError:\n    from qgis.PyQt.QtWidgets import QAction",
    "from qgis.PyQt.QtCore import QVariant\nkind = QVariant.Int  # qt6-ok: QGIS < 3.38 only",
    "from qgis.PyQt.QtCore import QVariant\nnull = QVariant()\nempty = null.isNull()",
    "from qgis.core import QgsProcessing\nsink = QgsProcessing.TEMPORARY_OUTPUT",
]


@pytest.mark.parametrize("snippet, code", BAD_SNIPPETS.items(), ids=[code for code in BAD_SNIPPETS.values()])
def test_checker_flags_qt5_only_code(snippet, code):
    assert code in [finding.code for finding in check_source(snippet)]


@pytest.mark.parametrize("snippet", GOOD_SNIPPETS)
def test_checker_accepts_code_for_both(snippet):
    assert check_source(snippet) == []


def test_checker_names_the_place_and_the_fix():
    [finding] = check_source("x = 1\nfrom qgis.PyQt.QtCore import Qt\nalign = Qt.AlignLeft\n", "plugin.py")
    assert str(finding) == "plugin.py:3:9: Q608 unscoped enum Qt.AlignLeft: write Qt.AlignmentFlag.AlignLeft"


def test_plugin_and_its_qgis_scripts_are_clean():
    assert [str(finding) for finding in check_paths([REPO / folder for folder in CHECKED])] == []


def pyqt6_imports(folder, package):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([sys.executable, str(HERE / "pyqt6_imports.py"), str(folder), package],
                         capture_output=True, text=True, env=env, cwd=folder, timeout=600)
    assert run.returncode in (0, 1), run.stderr
    return run.returncode, json.loads(run.stdout)


def test_every_plugin_module_imports_on_pyqt6():
    assert pyqt6_imports(REPO, "wrok_plugin") == (0, [])


def test_pyqt6_imports_catch_what_qgis_4_lacks(tmp_path):
    package = tmp_path / "qt5plugin"
    package.mkdir()
    modules = {
        "__init__": "",
        "moved": "from qgis.PyQt.QtWidgets import QAction\n",
        "variant": "from qgis.PyQt.QtCore import QVariant\nKIND = QVariant.Int\n",
        "unscoped": "from qgis.PyQt.QtCore import Qt\n\n\ndef align():\n    return Qt.AlignLeft\n",
        "pyqt5": "from PyQt5.QtCore import Qt\n",
        "fine": """
            from qgis.core import Qgis, QgsProcessingAlgorithm
            from qgis.PyQt.QtCore import QMetaType, Qt
            from qgis.PyQt.QtGui import QAction

            LEVEL = Qgis.MessageLevel.Info
            ALIGN = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop


            class Algorithm(QgsProcessingAlgorithm):
                KIND = QMetaType.Type.Double
            """,
    }
    for name, source in modules.items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    status, problems = pyqt6_imports(tmp_path, "qt5plugin")
    assert status == 1
    assert {problem.split(":")[0] for problem in problems} == {
        "qt5plugin/moved.py", "qt5plugin/variant.py", "qt5plugin/unscoped.py", "qt5plugin/pyqt5.py"}
    assert "qt5plugin/unscoped.py:5: Qt.AlignLeft does not exist in PyQt6" in problems
    assert any("QAction" in problem for problem in problems if problem.startswith("qt5plugin/moved.py"))


def test_checker_exit_status_fails_make_lint(tmp_path, capsys):
    from .qt6_check import main

    (tmp_path / "good.py").write_text("dialog.exec()\n")
    assert main([str(tmp_path)]) == 0
    (tmp_path / "bad.py").write_text("dialog.exec_()\n")
    assert main([str(tmp_path)]) == 1
    assert "bad.py:1:1: Q602" in capsys.readouterr().out
