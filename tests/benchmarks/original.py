"""The original tool's figures, parsed from ../shared/BENCHMARKS.md ("The original, measured here")."""

from __future__ import annotations

import re

from datasets import SHARED

# Bench figure -> how the row of BENCHMARKS.md's table starts, and the scale of its number.
ROWS = {
    "seconds": ("wall time, clustering only", 1.0),
    "clusters": ("clusters |", 1.0),
    "in_band": ("clusters within ±20 %", 0.01),
    "over_max": ("clusters over max weight", 1.0),
    "median_weight": ("median cluster weight", 1.0),
    "median_radius": ("median radius", 1.0),
    "p90_radius": ("p90 radius", 1.0),
    "score": ("seed score", 1.0),
    "hull_overlap": ("hull overlap", 0.01),
    "rms_m": ("weighted RMS distance", 1.0),
    "connected": ("clusters whose cells are 8-connected", 0.01),
}
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _number(cell: str, scale: float):
    found = NUMBER.search(cell)
    if found is None:  # "—": not measured
        return None
    return float(found.group().replace(",", "")) * scale


def original_figures(path=SHARED / "BENCHMARKS.md") -> dict:
    """{dataset: {figure: value}}, values as the bench computes them (shares as fractions)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## The original"))
    header = next(line for line in lines[start:] if line.startswith("| measured"))
    datasets = [cell.strip() for cell in header.strip().strip("|").split("|")][1:]
    figures = {name: {} for name in datasets}
    for line in lines[lines.index(header) + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        for figure, (label, scale) in ROWS.items():
            if (cells[0] + " |").startswith(label):
                for name, cell in zip(datasets, cells[1:]):
                    figures[name][figure] = _number(cell, scale)
    return figures
