"""The exact power assignment: kept candidate lists against brute force over every centre."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine import power
from core.engine.power import PowerNeighbours, power_nearest


def brute_force(points, centres, prices, count):
    """Every point against every centre: the `count` cheapest, ties to the lower centre number."""
    cost = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2) - prices[None, :]
    order = np.lexsort((np.broadcast_to(np.arange(len(centres)), cost.shape), cost), axis=1)[:, :count]
    return order, np.take_along_axis(cost, order, axis=1)


def price_walk(rng, k, steps, spacing):
    """Prices as a balance moves them: small steps for most centres, a few that climb or fall fast."""
    prices = np.zeros(k)
    fast = rng.choice(k, size=max(1, k // 40), replace=False)
    for _ in range(steps):
        step = rng.normal(scale=0.05 * spacing**2, size=k)
        step[fast] += rng.choice([-1.0, 1.0], size=len(fast)) * spacing**2
        prices = prices + step
        yield prices - prices.mean()


@pytest.mark.parametrize("k", [5, 20, 300, 1200])
def test_kept_lists_give_the_exact_power_nearest_as_prices_move(k, monkeypatch):
    monkeypatch.setattr(power, "LIST_CENTRES", 1)  # lists for any k (the engine keeps them from 1000 on)
    rng = np.random.default_rng(k)
    points = np.round(rng.normal(size=(4000, 2)) * 1000.0 / 50.0) * 50.0  # on a grid: some share a spot
    centres = rng.normal(size=(k, 2)) * 1000.0
    spacing = 2000.0 / np.sqrt(k)
    neighbours = PowerNeighbours(points, centres)
    for step, prices in enumerate(price_walk(rng, k, 80, spacing)):  # past MAX_EPOCHS: queried afresh
        count = 2 if step % 2 == 0 else 8
        index, cost = neighbours.nearest(prices, count)
        want_index, want_cost = brute_force(points, centres, prices, min(count, k))
        np.testing.assert_array_equal(cost, want_cost)
        np.testing.assert_array_equal(index, want_index)


def test_equal_costs_go_to_the_lower_centre_number_whichever_way_they_were_found():
    # Two centres mirrored about the line x = 0: every point on it is equally far from both.
    points = np.column_stack([np.zeros(50), np.arange(50.0)])
    mirrored = np.array([[5.0, 20.0], [-5.0, 20.0], [300.0, 0.0], [-300.0, 0.0]])
    centres = np.vstack([mirrored, np.random.default_rng(0).uniform(500, 900, size=(30, 2))])
    prices = np.zeros(len(centres))
    prices[:2] = 7.0
    for index, _ in (power_nearest(points, centres, prices, 2),
                     PowerNeighbours(points, centres).nearest(prices, 2)):
        assert (index[:, 0] == 0).all() and (index[:, 1] == 1).all()
