"""The Python packages the engine needs, and how to install them into the Python QGIS runs."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

# (name to import, name to pip install)
REQUIRED_PACKAGES = (("numpy", "numpy"), ("sklearn", "scikit-learn"), ("optuna", "optuna"))
# What the AWS submit algorithm needs on top of the engine (aws/client.py and its GeoParquet upload).
AWS_PACKAGES = (("boto3", "boto3"), ("geopandas", "geopandas"), ("pyarrow", "pyarrow"))


def missing_packages(required=REQUIRED_PACKAGES) -> list:
    """pip names of the packages (the engine's by default) that cannot be imported here."""
    missing = []
    for module, package in required:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    return missing


def qgis_python() -> str:
    """The interpreter QGIS embeds.

    Inside QGIS sys.executable is the QGIS binary or whatever 'python3' PATH finds first, so
    the interpreter beside the running Python's own prefix comes first.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    prefix = Path(sys.exec_prefix)
    for candidate in (prefix / "python.exe", prefix / "bin" / f"python{version}", prefix / "bin" / "python3"):
        if candidate.exists():
            return str(candidate)
    if Path(sys.executable).name.lower().startswith("python"):
        return sys.executable
    return shutil.which(f"python{version}") or "python3"


def install_command(packages) -> list:
    return [qgis_python(), "-m", "pip", "install", "--user", *packages]


def install_hint(packages) -> str:
    """What to tell a user who lacks packages: exactly which, and the command that installs them."""
    command = " ".join(install_command(packages))
    return (
        f"wrok needs the Python package(s) {', '.join(packages)} in the Python that QGIS runs. "
        f"Install them with:\n    {command}\nthen restart QGIS. In the QGIS desktop the wrok plugin "
        "offers to run this for you. On Debian/Ubuntu, where the system Python refuses pip, install "
        "python3-numpy and python3-sklearn with apt and add --break-system-packages to the pip command "
        "for optuna."
    )


def pip_install(packages, timeout_s: int = 900):
    """Run pip with QGIS's interpreter; returns (succeeded, pip's output)."""
    try:
        done = subprocess.run(install_command(packages), capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def aws_install_hint(packages) -> str:
    """What to tell a user whose QGIS Python lacks packages the AWS submit algorithm needs."""
    command = " ".join(install_command(packages))
    return (
        f"Submitting to the AWS pipeline needs the Python package(s) {', '.join(packages)} in the Python "
        f"that QGIS runs. Install them with:\n    {command}\nthen restart QGIS. On Debian/Ubuntu, where the "
        "system Python refuses pip, install python3-boto3 and python3-geopandas with apt, or add "
        "--break-system-packages to the pip command. AWS credentials come from your AWS profile, "
        "environment or SSO login, never from the plugin."
    )
