"""Options that cannot apply are refused; progress reaches a log as plain, throttled lines (issue 20)."""

from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
from core_helpers import run_cli

from core.engine.progress import PlainProgress, stage_text


def points(path, n=400):
    rng = np.random.default_rng(4)
    frame = gpd.GeoDataFrame({"population": rng.integers(1, 20, n).astype(float)},
                             geometry=gpd.points_from_xy(rng.uniform(0, 4000, n), rng.uniform(0, 4000, n)),
                             crs=32651)
    frame.to_file(path)
    return path


def test_max_passes_without_a_max_weight_is_refused_before_writing(tmp_path):
    source = points(tmp_path / "in.gpkg")
    run = run_cli("cluster", source, tmp_path / "out.gpkg", "--weight-field", "population", "--target-weight",
                  240, "--target-radius", 1000, "--max-passes", 5)
    assert run.returncode == 2
    assert "error: --max-passes applies only with --max-weight" in run.stderr
    assert not (tmp_path / "out.gpkg").exists()
    capped = run_cli("cluster", source, tmp_path / "out.gpkg", "--weight-field", "population", "--target-weight",
                     240, "--target-radius", 1000, "--max-weight", 300, "--max-passes", 5, "--quiet")
    assert capped.returncode == 0, capped.stderr


def test_reassignment_ratio_outside_the_seed_strategy_is_refused(tmp_path):
    source = points(tmp_path / "in.gpkg")
    run = run_cli("cluster", source, tmp_path / "out.gpkg", "--target-weight", 240, "--target-radius", 1000,
                  "--reassignment-ratio", 0.3)
    assert run.returncode == 2 and "--reassignment-ratio applies only with --strategy seed" in run.stderr
    assert not (tmp_path / "out.gpkg").exists()


def test_progress_reaches_a_log_as_plain_lines(tmp_path):
    source = points(tmp_path / "in.gpkg")
    run = run_cli("cluster", source, tmp_path / "out.gpkg", "--weight-field", "population", "--target-weight",
                  240, "--target-radius", 1000, "--initial-trials", 6)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("progress:")]
    assert lines and "\r" not in run.stderr and "\x1b" not in run.stderr  # no bar redraws in a log
    percents = [int(line.split()[1]) for line in lines]
    assert percents == sorted(percents) and percents[0] == 0


def test_plain_progress_writes_at_most_one_line_per_tenth_or_per_interval():
    now = [0.0]
    out = io.StringIO()
    progress = PlainProgress(out, seconds=5.0, step=0.1, clock=lambda: now[0])
    for i in range(1001):  # a thousand updates within one second: a line per 10 % only
        now[0] = i / 1000
        progress(i / 1000, f"pass 1: trial {i} of 1000")
    assert len(out.getvalue().splitlines()) == 11
    out.seek(0)
    out.truncate()
    for i in range(5):  # slow steps: a line every 5 seconds even when the fraction barely moves
        now[0] += 6.0
        progress(0.5 + i / 1000, "pass 2: re-clustered 1 of 3 oversized")
    assert len(out.getvalue().splitlines()) == 5
    now[0] += 100.0
    progress(0.504, "pass 2: re-clustered 1 of 3 oversized")  # nothing new: no line
    assert len(out.getvalue().splitlines()) == 5


def test_stage_text_reads_naturally():
    assert stage_text("pass 1: trial 3 of 6") == "pass 1: tuning the number of clusters (6 trials)"
    assert stage_text("stratum North: pass 1: region 2 of 12") == "stratum North: pass 1: clustering 12 regions"
    assert stage_text("pass 2: re-clustered 3 of 5 oversized") == "pass 2: re-clustering 5 oversized clusters"
