"""Synthetic clumped populations: towns of varied size over a thin rural spread.

Test-only (not shipped): used by the tests and the
100k / 1M benchmarks. Coordinates are metres in UTM zone 51N (EPSG:32651).
"""

from __future__ import annotations

import numpy as np

SYNTHETIC_EPSG = 32651
_ORIGIN = (600_000.0, 900_000.0)  # somewhere in Mindanao


def clumped_population(n_points: int, seed: int = 0, grid_m: float = 100.0, extent_m: float | None = None,
                       n_towns: int | None = None):
    """Grid-cell centres (x, y) with population weights, clumped into towns.

    Returns (x, y, population): 60 % of cells in n_towns towns (Gaussian blobs with
    lognormal sizes, wider the bigger; default one per 2,000 points), the rest spread
    thinly; weights are lognormal (skewed), heavier in towns. Cells snap to a grid_m
    grid, so like real grids some share coordinates.
    """
    rng = np.random.default_rng(seed)
    extent = extent_m or 1.5 * np.sqrt(n_points) * grid_m  # ~45 % of the grid cells populated
    n_town = int(0.6 * n_points)
    n_towns = n_towns or max(3, n_points // 2000)
    town_xy = rng.uniform(0, extent, size=(n_towns, 2))
    town_size = rng.lognormal(mean=0.0, sigma=1.0, size=n_towns)
    town_of = rng.choice(n_towns, size=n_town, p=town_size / town_size.sum())
    spread = 400.0 + 900.0 * np.sqrt(town_size[town_of])
    town_pts = town_xy[town_of] + rng.normal(size=(n_town, 2)) * spread[:, None]
    rural_pts = rng.uniform(0, extent, size=(n_points - n_town, 2))
    xy = np.vstack([town_pts, rural_pts])
    xy = np.round(xy / grid_m) * grid_m + grid_m / 2
    weights = np.concatenate([
        rng.lognormal(mean=0.2, sigma=0.8, size=n_town),
        rng.lognormal(mean=-1.2, sigma=0.8, size=n_points - n_town),
    ])
    return xy[:, 0] + _ORIGIN[0], xy[:, 1] + _ORIGIN[1], np.round(weights, 3)


def clumped_population_frame(n_points: int, seed: int = 0, n_towns: int | None = None):
    """The same as a GeoDataFrame of points in EPSG:4326 with a `population` column."""
    import geopandas as gpd

    x, y, population = clumped_population(n_points, seed, n_towns=n_towns)
    frame = gpd.GeoDataFrame({"cell_id": np.arange(n_points), "population": population},
                             geometry=gpd.points_from_xy(x, y), crs=SYNTHETIC_EPSG)
    return frame.to_crs(4326)
