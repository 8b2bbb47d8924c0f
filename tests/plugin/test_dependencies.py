"""The dependency install, for real (pip from PyPI), into a throwaway folder standing in for the QGIS profile."""

import subprocess
import sys

import numpy

from wrok_plugin.dependencies import install_hint, missing_packages, pip_install


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
