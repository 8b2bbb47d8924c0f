"""The documentation site builds strictly (every link and anchor resolves), holds each algorithm's help page, and
the README stays a short front page whose links lead to pages that exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README_LIMIT = 20_000  # bytes: what a newcomer reads on two screens
ALGORITHM_NAME = re.compile(r'def name\(self\):\s+return "(\w+)"')


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(folder)], cwd=REPO,
                           capture_output=True, text=True, timeout=600, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert built.returncode == 0, built.stderr[-3000:]
    return folder


def algorithm_names() -> list:
    sources = (REPO / "wrok_plugin" / "processing").glob("*algorithm*.py")
    return sorted(name for source in sources for name in ALGORITHM_NAME.findall(source.read_text(encoding="utf-8")))


def test_every_algorithm_has_its_own_help_page(site):
    names = algorithm_names()
    assert names == ["classifyraster", "clusterraster", "ppssample", "submitaws", "tunedclustering"]
    for name in names:
        page = (site / "algorithms" / f"{name}.html").read_text(encoding="utf-8")
        assert f"wrok:{name}" in page


def test_reference_pages_are_generated_from_the_code(site):
    cli = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    for command in ("python -m core cluster", "python -m core sample", "python -m core classify",
                    "python -m aws submit", "python -m aws fetch", "python -m aws split"):
        assert f"<code>{command}</code>" in cli, command
    assert "--target-weight" in cli and "--strata-table" in cli
    parameters = (site / "reference" / "parameters.html").read_text(encoding="utf-8")
    assert "--max-radius" in parameters and "--initial-trials" in parameters


def test_the_site_works_offline(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis.com" not in index  # no web font: the zip's pages load from file://
    assert 'href="getting-started.html"' in index  # links name their .html file, as file:// needs


def test_readme_is_short_and_links_to_pages_that_exist(site):
    readme = REPO / "README.md"
    assert readme.stat().st_size < README_LIMIT
    links = re.findall(r"\]\((docs/[^)#\s]+\.md)(?:#([\w-]+))?\)", readme.read_text(encoding="utf-8"))
    assert len(links) >= 5
    for path, anchor in links:
        assert (REPO / path).is_file(), path
        if anchor:
            built = site / Path(path).relative_to("docs").with_suffix(".html")
            assert f'id="{anchor}"' in built.read_text(encoding="utf-8"), f"{path}#{anchor}"
