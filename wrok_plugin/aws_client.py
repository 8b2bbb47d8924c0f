"""Where the AWS pipeline client (aws/client.py) comes from, and whether it can load here.

Two layouts, one client:
* source checkout (QGIS_PLUGINPATH points at the repository): the repository's own `aws.client`,
  which imports the engine as the top-level package `core` from the same checkout;
* the Plugin Manager zip: `make package` copies only the client-side modules
  (aws/{__init__,client,kickoff,split,storage,overrides}.py) to wrok_plugin/vendor/aws/ and
  rewrites their `from core...` imports to the plugin's own `...core`, so nothing is aliased in
  sys.modules and no top-level name is claimed in QGIS's shared Python. The zip never holds the
  pipeline's infrastructure (template, Dockerfile, Lambda handler).
Nothing here imports boto3 or geopandas until load_client() is called.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from .dependencies import AWS_PACKAGES, aws_install_hint, install_hint, missing_packages

PLUGIN_DIR = Path(__file__).resolve().parent
CHECKOUT = PLUGIN_DIR.parent
VENDORED = f"{__package__}.vendor.aws.client"


def _checkout_client():
    """The repository's aws.client when the plugin runs from a source checkout, else None."""
    if not ((CHECKOUT / "aws" / "client.py").is_file() and (CHECKOUT / "core" / "__init__.py").is_file()):
        return None
    if str(CHECKOUT) not in sys.path:
        sys.path.append(str(CHECKOUT))  # QGIS already adds it when QGIS_PLUGINPATH is the checkout
    module = importlib.import_module("aws.client")
    if Path(module.__file__).resolve().parent != (CHECKOUT / "aws").resolve():
        return None  # another package named 'aws' came first on sys.path: use the vendored copy
    return module


def load_client():
    """The aws.client module: the checkout's if there is one, else the copy vendored into the zip."""
    module = _checkout_client()
    if module is not None:
        return module
    try:
        return importlib.import_module(VENDORED)
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith(f"{__package__}.vendor"):
            raise ImportError(
                "the AWS pipeline client is not part of this wrok install: run QGIS with the plugin from a "
                "source checkout (QGIS_PLUGINPATH=<repository>) or install a zip built with `make package`"
            ) from None
        raise


def client_problem():
    """None when the client loads; else a message naming exactly what to install and how."""
    missing = missing_packages() + missing_packages(AWS_PACKAGES)
    if missing:
        engine = missing_packages()
        if engine and len(engine) == len(missing):
            return install_hint(engine)
        return aws_install_hint(missing)
    try:
        load_client()
    except ImportError as error:
        package = (getattr(error, "name", None) or "").split(".")[0]
        if package and not package.startswith(("aws", "core", __package__)):
            return aws_install_hint([package])
        return f"The AWS pipeline client cannot be loaded: {error}"
    return None
