"""Where the plugin's own files (icon, help pages) live: inside the plugin in the zip, beside it in the repo."""

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


def help_url(algorithm_name: str) -> str:
    """The algorithm's page as a file:// URL: the built site the zip ships in help/ (`make package`), or in a
    checkout the page's Markdown source in docs/; '' when neither is there."""
    for page in (PLUGIN_DIR / "help" / "algorithms" / f"{algorithm_name}.html",
                 PLUGIN_DIR.parent / "docs" / "algorithms" / f"{algorithm_name}.md"):
        if page.is_file():
            return page.as_uri()
    return ""
