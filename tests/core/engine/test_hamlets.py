"""The screening grid of the remote-hamlet search never changes what it finds."""

import numpy as np
import pytest

from core.engine.hamlets import _isolated_light_groups, remote_hamlets


def scattered_villages(seed):
    """Villages of a few to a few hundred houses, some alone in the countryside, some stacked."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 60_000, (rng.integers(5, 40), 2))
    sizes = rng.integers(1, 300, len(centres))
    points = np.vstack([rng.normal(c, rng.uniform(5, 800), (s, 2)) for c, s in zip(centres, sizes)])
    points = np.vstack([points, points[: len(points) // 20]])  # stacked duplicates
    weights = rng.choice([0.0, 1.0, 2.0, 7.0], len(points), p=[0.1, 0.6, 0.2, 0.1])
    return points[:, 0] + 500_000, points[:, 1] + 1_000_000, weights


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("gap, light", [(4000.0, 192.0), (1500.0, 40.0), (12_000.0, 900.0)])
def test_screened_search_finds_what_the_full_search_finds(seed, gap, light):
    x, y, w = scattered_villages(seed)
    full = _isolated_light_groups(x, y, w, np.zeros(len(x), dtype=bool), gap, light, whole=True)
    screened = remote_hamlets(x, y, w, gap, light)
    assert [g.tolist() for g in screened] == [g.tolist() for g in full]


def test_a_dense_raster_is_screened_out_without_the_exact_search(monkeypatch):
    import core.engine.hamlets as hamlets

    def refuse(*args, **kwargs):
        raise AssertionError("the exact search ran")

    monkeypatch.setattr(hamlets, "_isolated_light_groups", refuse)
    ys, xs = np.mgrid[0:300, 0:300] * 100.0
    assert remote_hamlets(xs.ravel(), ys.ravel(), np.full(xs.size, 0.5), 4000.0, 192.0) == []
