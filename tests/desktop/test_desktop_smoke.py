"""The real QGIS desktop (`qgis` under Xvfb) with the plugin installed from the zip into a throwaway profile.

As Getting started (docs/getting-started.md) tells users: `make package`, unzip into the profile's python/plugins, enable it, and
put the venv's packages on PYTHONPATH. smoke_script.py then clicks through the plugin; this test fails
on any Python error, a crash (QGIS's exit status) or a hang (the subprocess timeout, a guard only).
"""

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from heavy_modules import unsafe

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "smoke_script.py"
HANG_GUARD_S = 1800  # generous: a hung QGIS is what this catches, not a slow one


def desktop_env(tmp_path):
    profiles = tmp_path / "profiles"
    plugins = profiles / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    subprocess.run(["make", "-s", "package"], cwd=REPO, check=True, capture_output=True, timeout=300)
    zipfile.ZipFile(REPO / "dist" / "wrok_plugin.zip").extractall(plugins)
    settings = profiles / "profiles" / "default" / "QGIS"
    settings.mkdir(parents=True)
    (settings / "QGIS3.ini").write_text(
        "[PythonPlugins]\nwrok_plugin=true\nprocessing=true\n\n[qgis]\ncheckVersion=false\n"
        "showTips=false\n\n[core]\nNewsFeed\\httpsfeedqgisorg\\disabled=true\n")
    data = tmp_path / "population.gpkg"
    shutil.copy(REPO / "resources" / "demo_population.gpkg", data)
    site_packages = next((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    env = {key: value for key, value in os.environ.items() if key not in ("QT_QPA_PLATFORM", "QGIS_PLUGINPATH")}
    env.update(PYTHONPATH=str(site_packages), WROK_SMOKE_RESULTS=str(tmp_path / "seen.json"),
               WROK_SMOKE_DATA=str(data),
               WROK_SMOKE_SCREENSHOT=str(tmp_path / "desktop.png"))
    return profiles, env


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    if not (shutil.which("qgis") and shutil.which("xvfb-run")):
        pytest.fail("the desktop smoke test needs the qgis binary and xvfb-run (make setup installs both)")
    tmp_path = tmp_path_factory.mktemp("desktop")
    profiles, env = desktop_env(tmp_path)
    command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "qgis", "--profiles-path", str(profiles),
               "--nologo", "--noversioncheck", "--code", str(SCRIPT)]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=HANG_GUARD_S)
    results = tmp_path / "seen.json"
    assert results.is_file(), f"QGIS exited ({done.returncode}) before the script finished:\n{done.stderr[-3000:]}"
    seen = json.loads(results.read_text())
    seen["returncode"] = done.returncode
    seen["env"] = env
    seen["stderr"] = done.stderr
    screenshots = os.environ.get("WROK_SCREENSHOT_DIR")  # `make screenshots` keeps it for the docs
    if screenshots and Path(env["WROK_SMOKE_SCREENSHOT"]).is_file():
        shutil.copy(env["WROK_SMOKE_SCREENSHOT"], Path(screenshots) / "desktop_clusters.png")
    return seen


def test_no_python_error_crash_or_hang(desktop):
    assert desktop["errors"] == [] and desktop["log"] == [], desktop
    assert desktop["finished"] and desktop["returncode"] == 0, desktop["stderr"][-3000:]
    assert desktop["steps"] == ["toolbox", "clustering", "screenshot", "write_back", "cancel"]


def test_plugin_loads_from_the_zip_without_heavy_imports(desktop):
    assert desktop["plugin_loaded"]
    assert "/python/plugins/wrok_plugin/vendor/core/" in desktop["core_file"]
    assert desktop["engine_at_start"] == []  # scikit-learn and Optuna load at the first run, not at startup
    for stage in ("heavy_at_start", "heavy_after_dialogs", "heavy_at_end"):
        assert unsafe(desktop[stage], desktop["env"], "/usr/bin/python3") == [], stage  # qgis embeds it


def test_each_algorithm_opens_from_the_toolbox(desktop):
    assert desktop["opened"]["wrok:tunedclustering"][0] == "AlgorithmDialog"
    # the AWS algorithm opens too, or says what to install (boto3) instead of crashing
    assert desktop["opened"]["wrok:submitaws"][0] in ("AlgorithmDialog", "MessageDialog")


def test_processing_dialog_preselects_the_weight_field(desktop):
    assert desktop["preselected_weight"] == "population"


def test_clustering_outputs_are_styled_and_named(desktop):
    renderer, categories, hulls, labelled, fill_alpha = desktop["styled"]["clusters"]
    assert renderer == "categorizedSymbol" and categories == hulls > 1 and labelled and 0 < fill_alpha < 255
    assert desktop["styled"]["features"] == ["categorizedSymbol", categories]
    assert Path(desktop["screenshot"]).stat().st_size > 10_000


def test_write_back_works_three_times_with_undo(desktop):
    runs = desktop["write_back"]
    assert len(runs) == 3
    for run in runs:
        assert run["preselected_weight"] == "population"
        assert run["had_cluster_field"] and not run["after_undo"]
        assert any("clusters written to households" in m for m in run["messages"]), run


def test_cancel_reads_cancelled_and_changes_nothing(desktop):
    messages = desktop["cancel"]["messages"]
    assert any("Cancelled" in m for m in messages) and not any("fail" in m.lower() for m in messages), messages
    assert not desktop["cancel"]["layer_changed"]
    assert not any(m.startswith("wrok: wrok") for m in desktop["messages"])  # one prefix
