"""Make the engine importable as the top-level package `core`, the one name plugin, CLI and Lambda share.

* Source checkout (QGIS_PLUGINPATH or sys.path holds the repository root): `core/` and `aws/`
  sit beside `wrok_plugin/`; QGIS already puts that folder on sys.path.
* Plugin Manager zip: `make package` copies them to `wrok_plugin/vendor/`.
No symlink (a Windows checkout has none) and no `wrok_plugin.core` alias: there is exactly one
module object, so `except core.ClusteringCancelled` catches what the engine raises.
"""

from __future__ import annotations

import sys
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent
CANDIDATES = (PLUGIN_DIR / "vendor", PLUGIN_DIR.parent)  # the zip's copy first: an install is self-contained


class EngineNotFound(ImportError):
    pass


def engine_folder() -> Path:
    """The folder holding our `core` package."""
    for folder in CANDIDATES:
        if (folder / "core" / "params.py").is_file():
            return folder
    raise EngineNotFound(f"the wrok engine (core/) is neither in {CANDIDATES[0]} nor in {CANDIDATES[1]}: "
                         "install the zip built by `make package`, or run from a full source checkout")


def add_engine_to_path() -> Path:
    """Append the engine's folder to sys.path (appended: never shadow another package) and check it wins."""
    folder = engine_folder()
    if not any(_same(entry, folder) for entry in sys.path):
        sys.path.append(str(folder))
    import core  # cheap: parameters and exceptions only, no numpy

    loaded_from = Path(core.__file__).resolve().parent.parent
    if loaded_from != folder:
        raise EngineNotFound(f"another package named 'core' ({core.__file__}) is loaded in QGIS's Python before "
                             f"wrok's engine ({folder / 'core'}); remove it from sys.path or PYTHONPATH")
    return folder


def _same(entry: str, folder: Path) -> bool:
    try:
        return Path(entry).resolve() == folder
    except (OSError, ValueError):
        return False
