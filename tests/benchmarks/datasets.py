"""The benchmark's inputs: the original tool's demo data and settings, read and projected.

Settings are those of ../shared/BENCHMARKS.md, so figures compare with the original's.
Inputs are prepared as the original prepares them: project to the dataset's EPSG, use
each geometry's centroid as its position and the full projected geometry for radii.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"

# The original's demo settings shared by both datasets (BENCHMARKS.md), n_jobs as it was measured.
COMMON_PARAMS = dict(weight_importance_factor=1, minibatch_reassignment_ratio=0.1, initial_max_trials=100,
                     max_passes=100, subsequent_max_trials=20, n_jobs=1, random_state=42)


@dataclass(frozen=True)
class Dataset:
    name: str
    file: str
    weight_column: Optional[str]
    epsg: int
    target_weight: float
    target_radius: float
    max_weight: float
    grid_cell_degrees: Optional[float] = None  # points on a lon/lat grid: 8-connectivity is measured

    @property
    def path(self) -> Path:
        return SHARED / "data" / self.file

    def params(self) -> dict:
        return dict(desired_cluster_weight=self.target_weight, desired_cluster_radius=self.target_radius,
                    max_cluster_weight=self.max_weight, **COMMON_PARAMS)


DATASETS = [
    Dataset("grids", "grids.parquet", "population", 3121, 240, 1000, 300, grid_cell_degrees=0.000833333),
    Dataset("rooftops", "rooftops.parquet", None, 26191, 30, 550, 50),
]
BY_NAME = {dataset.name: dataset for dataset in DATASETS}


@dataclass
class Prepared:
    frame: object  # the GeoDataFrame as read (EPSG:4326)
    projected: object  # its geometry in the dataset's EPSG (GeoSeries, metres)
    x: np.ndarray  # centroid positions, metres
    y: np.ndarray
    weights: np.ndarray
    vertex_xy: Optional[np.ndarray]  # every vertex of polygon members (None for points)
    vertex_owner: Optional[np.ndarray]


def prepare(dataset: Dataset) -> Prepared:
    import geopandas as gpd
    import shapely

    frame = gpd.read_parquet(dataset.path)
    projected = frame.geometry.to_crs(epsg=dataset.epsg).reset_index(drop=True)
    centroids = projected.centroid
    weights = (np.ones(len(frame)) if dataset.weight_column is None
               else frame[dataset.weight_column].to_numpy(dtype=float))
    vertex_xy = owner = None
    if not (projected.geom_type == "Point").all():
        vertex_xy, owner = shapely.get_coordinates(projected.values, return_index=True)
    return Prepared(frame, projected, centroids.x.to_numpy(), centroids.y.to_numpy(), weights, vertex_xy, owner)
