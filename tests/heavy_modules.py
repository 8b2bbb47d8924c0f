"""Which of geopandas, pyproj, shapely and pyogrio a QGIS process may hold.

pip wheels of these bundle their own PROJ/GEOS and must never load in QGIS (std::bad_alloc, then a hung Python).
QGIS 3.40's own qgis.core imports shapely when it is installed; Debian's python3-shapely links QGIS's GEOS, so it
is then part of QGIS itself. A QGIS process may therefore hold exactly the heavy packages that a bare
`import qgis.core, qgis.gui` with the same environment loads from the system's packages, and nothing more:
on QGIS 3.22 nothing at all, on 3.40 Debian's shapely.

Scripts that run inside QGIS record `RECORD` (an expression: {package: file}); tests judge it with `unsafe`.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("geopandas", "pyproj", "shapely", "pyogrio")
SYSTEM_PACKAGES = "/usr/lib/python3/dist-packages/"
RECORD = ('{name: getattr(sys.modules[name], "__file__", None) '
          'for name in ("geopandas", "pyproj", "shapely", "pyogrio") if sys.modules.get(name) is not None}')

_QGIS_OWN = f"import json, sys\nimport qgis.core, qgis.gui\nprint('OWN ' + json.dumps({RECORD}))"


def qgis_own(env: dict, python: str = sys.executable) -> dict:
    """The heavy packages QGIS's own modules load in this environment, with their files."""
    done = subprocess.run([python, "-c", _QGIS_OWN], env=env, capture_output=True, text=True, timeout=120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("OWN ")), None)
    assert line, done.stderr[-2000:]
    return json.loads(line[4:])


def unsafe(seen: dict, env: dict, python: str = sys.executable) -> list:
    """What `seen` ({package: file} from RECORD) holds beyond QGIS's own system packages: should be empty."""
    own = {name for name, path in qgis_own(env, python).items() if path and path.startswith(SYSTEM_PACKAGES)}
    return sorted(f"{name} from {path}" for name, path in seen.items()
                  if name not in own or not (path or "").startswith(SYSTEM_PACKAGES))
