"""Where the AWS pipeline client (aws/client.py) comes from, and whether it can load here.

One client, imported as the top-level package `aws` beside the engine's `core` (engine_path.py):
in a source checkout the repository's own aws/, in the Plugin Manager zip the client-side modules
`make package` copies to wrok_plugin/vendor/aws/ (never the template, Dockerfile or Lambda handler).
Nothing here imports boto3 until load_client() is called.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..dependencies import AWS_PACKAGES, aws_install_hint, install_hint, missing_packages
from ..engine_path import engine_folder


def load_client():
    """The aws.client module that sits beside our engine (checkout or zip)."""
    folder = engine_folder()
    if not (folder / "aws" / "client.py").is_file():
        raise ImportError("the AWS pipeline client is not part of this wrok install: run QGIS with the plugin from a "
                          "source checkout (QGIS_PLUGINPATH=<repository>) or install a zip built with `make package`")
    module = importlib.import_module("aws.client")
    if Path(module.__file__).resolve().parent != folder / "aws":
        raise ImportError(f"another package named 'aws' ({module.__file__}) is loaded before wrok's AWS client")
    return module


def client_problem():
    """None when the client can load; else a message naming exactly what to install and how.

    Only looks (find_spec, file checks): canExecute() calls this when the toolbox opens the
    algorithm, and importing the client there would load its heavy dependencies in QGIS.
    """
    engine = missing_packages()
    aws = missing_packages(AWS_PACKAGES)
    if engine and not aws:
        return install_hint(engine)
    if engine or aws:
        return aws_install_hint(engine + aws)
    folder = engine_folder()
    if not (folder / "aws" / "client.py").is_file():
        return ("The AWS pipeline client is not part of this wrok install: run QGIS with the plugin from a source "
                "checkout (QGIS_PLUGINPATH=<repository>) or install a zip built with `make package`.")
    return None
