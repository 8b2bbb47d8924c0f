"""Where the plugin's own files (icon) live: inside the plugin in the zip, beside it in the repo."""

from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent
ICON_NAME = "wrok.svg"


def resource_path(name: str) -> str:
    """The zip ships resources/ inside the plugin; a checkout keeps them one level up."""
    for folder in (PLUGIN_DIR / "resources", PLUGIN_DIR.parent / "resources"):
        if (folder / name).exists():
            return str(folder / name)
    return ""


def icon_path() -> str:
    return resource_path(ICON_NAME)
