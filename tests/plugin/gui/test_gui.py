"""The desktop action, its dialog and the install offer, in a GUI-enabled QGIS (subprocess, offscreen)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import without

SCRIPT = Path(__file__).resolve().parents[1] / "gui_check.py"


def observe(env, *args):
    done = subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("SEEN ")), None)
    assert line, done.stderr[-2000:]
    return json.loads(line[5:])


@pytest.fixture(scope="module")
def desktop(qgis_process_env):
    return observe(qgis_process_env)


def test_init_gui_adds_toolbar_and_vector_menu_action(desktop):
    action = "Cluster layer and write cluster fields…"
    assert desktop["provider"] and desktop["toolbar"] == [action]
    assert desktop["vector_menu"] == [["&wrok", action], ["&wrok", "Submit layers to the AWS clustering pipeline…"]]
    assert desktop["install_buttons"] == []  # everything is installed here


def test_dialog_gives_task_settings(desktop):
    assert desktop["dialog"] == ["population", 150.0, None, True]


def test_unload_removes_everything(desktop):
    assert desktop["after_unload"] == [0, 0, True]


@pytest.mark.parametrize("module, packages", [("optuna", "optuna"), ("numpy", "numpy")])
def test_missing_package_offers_install(qgis_process_env, module, packages):
    seen = observe(qgis_process_env, *without(module))
    assert seen["provider"] and seen["toolbar"] and seen["install_buttons"] == ["Install…"]
    assert f"-m pip install {packages}\n" in seen["install_tooltip"]  # the venv's pip: no apt command
    needs = [text for text in seen["bar_texts"] if "needs the Python package(s)" in text]
    assert needs and not [text for text in needs if text.lower().startswith("wrok")]  # the bar's title says wrok
