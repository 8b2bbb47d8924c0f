"""Optuna, imported so that it keeps none of its importer's frames alive.

Optuna records the ImportError of each optional backend it lacks (redis, ...) together with its
traceback, and a traceback keeps the whole importing call stack alive with every local in it. In
QGIS those locals are the layers and contexts of the algorithm that happened to import the engine
first; they would be freed only at interpreter exit, after QGIS has shut GDAL down, which
segfaults. In the CLI they are the input's arrays. Imported on a short-lived thread of its own,
the only frames Optuna keeps are that thread's.
"""

from __future__ import annotations

import sys
import threading


def load_optuna():
    if "optuna" not in sys.modules:
        failures = []

        def import_optuna():
            try:
                import optuna  # noqa: F401
            except BaseException as exc:  # re-raised on the caller's thread below
                failures.append(exc)

        loader = threading.Thread(target=import_optuna, name="wrok-import-optuna")
        loader.start()
        loader.join()
        if failures:
            raise failures[0]
    import optuna

    return optuna
