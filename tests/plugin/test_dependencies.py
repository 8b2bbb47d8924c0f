"""The dependency install, for real (pip from PyPI), into a throwaway folder standing in for the QGIS profile."""

import json
import subprocess
import sys

import numpy

from wrok_plugin.dependencies import install_hint, missing_packages, pip_install

from .conftest import REPO


def test_pip_install_adds_the_package_and_leaves_numpy_alone(tmp_path):
    folder = tmp_path / "profile" / "python" / "wrok-packages"
    numpy_before = numpy.__file__
    ok, log = pip_install(["numpy-financial"], folder)  # small, not installed here, depends on numpy
    assert ok, log
    assert (folder / "numpy_financial").is_dir()
    assert not (folder / "numpy").exists() and not list(folder.glob("numpy-*"))  # pip's copy was removed
    assert "kept QGIS's own numpy" in log
    # appended like the plugin does: the package loads, with the numpy that was already there
    probe = (f"import sys; sys.path.append({str(folder)!r}); import numpy_financial, numpy; "
             "print(numpy_financial.__file__); print(numpy.__file__)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    package_file, numpy_file = done.stdout.split()
    assert package_file.startswith(str(folder)) and numpy_file == numpy_before


def test_checks_only_look_and_the_hint_names_versions():
    assert missing_packages() == []  # the venv has them all; found without importing
    hint = install_hint(["optuna"])
    assert "optuna" in hint and "Optuna 3.1" in hint and "restart QGIS" in hint


INSTALL_DIALOG = """
import json, sys, time
sys.path[:0] = [sys.argv[1], "/usr/share/qgis/python/plugins"]
from qgis.core import QgsApplication
app = QgsApplication([], True)
app.initQgis()
import wrok_plugin
from wrok_plugin.gui.install_dialog import InstallDialog
dialog = InstallDialog(["numpy-financial"], folder=sys.argv[2])
dialog.show()
dialog.pip_button.click()
started = time.monotonic()
while dialog.succeeded is None and time.monotonic() - started < 600:  # a hang guard, not a speed check
    app.processEvents()
    time.sleep(0.05)
print("SEEN " + json.dumps({"succeeded": dialog.succeeded, "status": dialog.status.text(),
                            "log": dialog.log.toPlainText(), "apt": dialog.apt_line is not None,
                            "button": dialog.pip_button.isEnabled()}))
"""


def test_install_dialog_runs_pip_and_shows_the_result_with_its_log(qgis_process_env, tmp_path):
    folder = tmp_path / "profile" / "python" / "wrok-packages"
    done = subprocess.run([sys.executable, "-c", INSTALL_DIALOG, str(REPO), str(folder)], env=qgis_process_env,
                          capture_output=True, text=True, timeout=900)
    line = next((line for line in done.stdout.splitlines() if line.startswith("SEEN ")), None)
    assert line, done.stderr[-2000:]
    seen = json.loads(line[5:])
    assert seen["succeeded"] is True and seen["status"] == "Installed. Restart QGIS to use wrok."
    assert "pip install" in seen["log"] and "numpy-financial" in seen["log"] and "Successfully installed" in seen["log"]
    assert not seen["apt"]  # the venv's Python is not the system's: pip is the way here
    assert (folder / "numpy_financial").is_dir()
