"""MkDocs hook: the reference pages generated from the code itself, so they cannot drift from it.

reference/cli.md is every `python -m core` and `python -m aws` parser's own --help; reference/parameters.md
comes from the parameter registry (core/registry.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parents[1]
HELP_WIDTH = "100"  # argparse wraps to $COLUMNS: one width, whatever the terminal that builds the site


def _parser_sections(title: str, parser: argparse.ArgumentParser) -> list:
    sections = [f"## `{title}`\n\n```text\n{parser.format_help()}```\n"]
    for action in parser._actions:  # argparse keeps its subcommands only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                sections.append(f"### `{title} {name}`\n\n```text\n{sub.format_help()}```\n")
    return sections


def cli_markdown() -> str:
    from aws.cli import build_parser as aws_parser
    from core.cli.main import build_parser as core_parser

    os.environ["COLUMNS"] = HELP_WIDTH
    body = _parser_sections("python -m core", core_parser()) + _parser_sections("python -m aws", aws_parser())
    return ("# Command line options\n\nEach command's own `--help`, generated from the parsers when the site is "
            "built.\n\n" + "\n".join(body))


def parameters_markdown() -> str:
    if importlib.util.find_spec("core.registry") is None:  # until the registry lands: the engine's own fields
        return _params_markdown()
    from core.registry import reference_markdown

    table = reference_markdown()
    title = "# Parameters\n\nEvery parameter as each front end names it, from `core/registry.py`.\n\n"
    return table if table.startswith("# ") else title + table


def _params_markdown() -> str:
    from dataclasses import MISSING, fields

    from core.params import DEFAULTS, PARAMETER_LABELS, ClusteringParams

    rows = ["| engine field | front ends' name (CLI option) | default |", "|---|---|---|"]
    for field in fields(ClusteringParams):
        default = DEFAULTS.get(field.name)
        if field.default is MISSING:
            default = f"required (dialogs start at {default:g})"
        rows.append(f"| `{field.name}` | {PARAMETER_LABELS.get(field.name, '')} | {default} |")
    return "# Parameters\n\nThe clustering parameters, from `core/params.py`.\n\n" + "\n".join(rows) + "\n"


GENERATED = {"reference/cli.md": cli_markdown, "reference/parameters.md": parameters_markdown}


def on_files(files, config):
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    for src_uri, make in GENERATED.items():
        files.append(File.generated(config, src_uri, content=make()))
    return files
