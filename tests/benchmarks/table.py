"""Markdown table of one dataset's rows, every figure formatted the same way."""

from __future__ import annotations

COLUMNS = [  # (header, figure key, format)
    ("time s", "seconds", "{:,.2f}"),
    ("peak MB", "peak_mb", "{:,.0f}"),
    ("clusters", "clusters", "{:,.0f}"),
    ("in ±20 %", "in_band", "pct"),
    ("over max", "over_max", "{:,.0f}"),
    ("median r m", "median_radius", "{:,.0f}"),
    ("p90 r m", "p90_radius", "{:,.0f}"),
    ("seed score", "score", "{:,.1f}"),
    ("hull overlap", "hull_overlap", "pct"),
    ("RMS m", "rms_m", "{:,.0f}"),
    ("8-connected", "connected", "pct"),
]


def cell(value, pattern: str) -> str:
    if value is None:
        return "—"
    if pattern == "pct":
        share = 100 * value
        return f"{share:.1f} %" if share == 0 or share >= 0.05 else f"{share:.2g} %"
    return pattern.format(value)


def markdown(rows) -> str:
    """rows: (label, figures dict) pairs."""
    lines = ["| row | " + " | ".join(header for header, _, _ in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for label, figures in rows:
        cells = [cell(figures.get(key), pattern) for _, key, pattern in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
