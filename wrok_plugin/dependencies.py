"""The Python packages the engine needs, and how to get them into the Python QGIS runs.

Checks use importlib.util.find_spec: nothing is imported (importing scikit-learn and Optuna costs
about a second at every QGIS start, and geopandas/pyproj must never load in the QGIS process).
Where the system Python is managed by the OS (Debian/Ubuntu, PEP 668), the apt packages come first;
elsewhere, or when the user asks, pip installs the missing packages into a folder of the QGIS
profile (`python/wrok-packages`) that the plugin appends to sys.path, so packages QGIS already has
(numpy above all: GDAL is built against it) are never replaced or shadowed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

# (name to import, name to pip install, Debian package)
REQUIRED_PACKAGES = (("numpy", "numpy", "python3-numpy"), ("sklearn", "scikit-learn", "python3-sklearn"),
                     ("optuna", "optuna", "python3-optuna"))
# What the AWS submit algorithm needs on top of the engine; geopandas and pyarrow load only in its worker
# process (cloud/worker.py), never in QGIS's. Debian 12 has no pyarrow package: pip installs that one.
AWS_PACKAGES = (("boto3", "boto3", "python3-boto3"), ("geopandas", "geopandas", "python3-geopandas"),
                ("pyarrow", "pyarrow"))
PACKAGES_FOLDER_NAME = "wrok-packages"
# Versions known to work; Debian 12's packages are the oldest supported (see metadata.txt).
WORKING_VERSIONS = ("numpy as QGIS's GDAL was built against it (1.24 to 1.26 on Debian 12, 2 on Debian 13 and "
                    "QGIS 3.40+), scikit-learn 1.2 or newer, Optuna 3.1 or newer")


def is_available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is broken, or sys.modules holds None
        return False


def missing_packages(required=REQUIRED_PACKAGES) -> list:
    """pip names of the packages (the engine's by default) that are not installed here."""
    return [package for module, package, *_ in required if not is_available(module)]


def debian_packages(pip_names, required=REQUIRED_PACKAGES + AWS_PACKAGES) -> list:
    return [extra[0] for _, package, *extra in required if package in pip_names and extra]


def system_python_is_managed() -> bool:
    """True where the OS owns the Python (PEP 668 EXTERNALLY-MANAGED, e.g. Debian 12, Ubuntu 23.04+)."""
    if sys.prefix != sys.base_prefix:  # a venv: pip is fine there
        return False
    stdlib = sysconfig.get_paths().get("stdlib", "")
    return bool(stdlib) and (Path(stdlib) / "EXTERNALLY-MANAGED").is_file()


def apt_command(pip_names) -> str:
    return "sudo apt install " + " ".join(debian_packages(pip_names))


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


def profile_packages_folder(profile_dir) -> Path:
    return Path(profile_dir) / "python" / PACKAGES_FOLDER_NAME


def add_packages_folder(folder) -> None:
    """Append (never prepend) the profile's package folder: what QGIS already has always wins."""
    folder = str(folder)
    if Path(folder).is_dir() and folder not in sys.path:
        sys.path.append(folder)
        importlib.invalidate_caches()


def install_command(packages, folder) -> list:
    return [qgis_python(), "-m", "pip", "install", "--disable-pip-version-check", "--target", str(folder), *packages]


def install_hint(packages) -> str:
    """What to tell a user who lacks packages: which ones, and the command that installs them here."""
    if system_python_is_managed() and debian_packages(packages):
        how = (f"On this system (Debian/Ubuntu) install them with:\n    {apt_command(packages)}\n"
               "or let the wrok plugin install them with pip into your QGIS profile (Plugins > wrok)")
    else:
        how = (f"Install them with:\n    {qgis_python()} -m pip install {' '.join(packages)}\n"
               "or let the wrok plugin install them into your QGIS profile")
    return (f"wrok needs the Python package(s) {', '.join(packages)} in the Python that QGIS runs. {how}, "
            f"then restart QGIS. Working versions: {WORKING_VERSIONS}.")


def aws_install_hint(packages) -> str:
    """What to tell a user whose QGIS Python lacks packages the AWS submit algorithm needs."""
    return (install_hint(packages).replace("wrok needs", "Submitting to the AWS pipeline needs", 1)
            + " AWS credentials come from your AWS profile, environment or SSO login, never from the plugin.")


def _installed_elsewhere(folder: Path) -> set:
    """Normalised names of the distributions importable without folder."""
    names = set()
    for dist in importlib.metadata.distributions():
        location = Path(str(dist.locate_file(""))).resolve()
        if location != folder.resolve():
            names.add(dist.metadata["Name"].lower().replace("_", "-"))
    return names


def pip_install(packages, folder, timeout_s: int = 1800):
    """pip install packages into folder; returns (succeeded, log).

    pip --target ignores what is installed, so it would fetch numpy again: the versions QGIS has are
    pinned as constraints, and every distribution that already exists outside folder is removed from
    it afterwards. The system's numpy, SciPy, ... stay the only ones Python sees.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    before = _installed_elsewhere(folder)
    constraints = folder / "constraints.txt"
    pinned = [f"{name}=={importlib.metadata.version(name)}" for name in ("numpy", "scipy") if name in before]
    constraints.write_text("\n".join(pinned) + "\n")
    command = install_command(packages, folder) + ["--constraint", str(constraints)]
    log = [" ".join(command)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, "\n".join(log + [str(exc)])
    log += [done.stdout, done.stderr]
    removed = _remove_duplicates(folder, before)
    if removed:
        log.append(f"kept QGIS's own {', '.join(sorted(removed))} (removed the copies pip put in {folder})")
    return done.returncode == 0, "\n".join(part for part in log if part)


def _remove_duplicates(folder: Path, installed_elsewhere: set) -> set:
    """Delete from folder every file (per its RECORD) of the distributions QGIS's Python already has."""
    removed = set()
    for info in folder.glob("*.dist-info"):
        name = info.name.split("-")[0].lower().replace("_", "-")
        if name not in installed_elsewhere:
            continue
        record = info / "RECORD"
        files = [line.split(",")[0] for line in record.read_text().splitlines()] if record.is_file() else []
        for relative in files:
            # Scripts are recorded relative to pip's temporary prefix (../../bin/f2py): they land in bin/.
            path = folder / "bin" / Path(relative).name if relative.startswith("../") else folder / relative
            path.unlink(missing_ok=True)
        shutil.rmtree(info, ignore_errors=True)
        removed.add(name)
    for directory, _, _ in sorted(os.walk(folder), key=lambda entry: -len(Path(entry[0]).parts)):
        if Path(directory) != folder and not any(Path(directory).iterdir()):
            Path(directory).rmdir()
    return removed
