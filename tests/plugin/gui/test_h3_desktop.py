"""h3 in the real QGIS desktop: Xvfb + the `qgis` binary with a --code script (h3_desktop_check.py).

h3 bundles no PROJ or GEOS, so unlike geopandas/pyproj/shapely it is safe in the desktop process;
this loads it there, clusters an H3 table through processing.run and checks none of those got loaded.
"""

import json
import subprocess
from pathlib import Path

from heavy_modules import unsafe

SCRIPT = Path(__file__).resolve().parents[1] / "h3_desktop_check.py"


def test_h3_table_clusters_inside_the_qgis_desktop(qgis_process_env, tmp_path):
    from ..conftest import REPO

    out = tmp_path / "seen.json"
    env = dict(qgis_process_env, WROK_H3_DESKTOP_OUT=str(out), WROK_REPO=str(REPO))
    env.pop("QT_QPA_PLATFORM")  # the desktop draws on Xvfb's display (offscreen crashes the full GUI)
    done = subprocess.run(["xvfb-run", "-a", "qgis", "--nologo", "--noversioncheck", "--profiles-path",
                           str(tmp_path / "profiles"), "--code", str(SCRIPT)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(out.read_text())
    assert "error" not in seen, seen
    assert seen["h3"].startswith("4.") and seen["crs"] == "EPSG:4326"
    assert seen["features"] == 61 and 0 < seen["connected_share"] <= 1  # a 4-ring disk: 1 + 3*4*5 cells
    assert unsafe(seen["loaded"], env, "/usr/bin/python3") == []  # the qgis binary embeds the system Python
