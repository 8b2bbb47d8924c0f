"""Clustering a raster on its pixel values (k-means on the values, position ignored).

The raster k-means of the Sentinel-2 NDVI example: every finite pixel that is not nodata
is a feature described by its value, and the values are split into k classes. Classes are
numbered 1..k from the lowest mean value up, so the numbering does not depend on k-means'
internal label order.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..params import ClusteringInputError

VALUE_COLUMNS = ["class_number", "n_pixels", "mean_value", "min_value", "max_value"]


def value_classes(values: np.ndarray, k: int, random_state: int = 42):
    """(class number 1..k per pixel, table {column: array}) from k-means on the pixel values."""
    from sklearn.cluster import KMeans

    values = np.asarray(values, dtype=float)
    distinct, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    if k < 1:
        raise ClusteringInputError(f"the number of value classes must be >= 1 (got {k})")
    if k > len(distinct):
        raise ClusteringInputError(f"{k} value classes asked but the raster has only {len(distinct)} distinct value(s)")
    model = KMeans(n_clusters=k, n_init=4, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's n_init FutureWarning: we set it explicitly
        # The distinct values weighted by their counts: the same fit as on every pixel, much faster.
        distinct_labels = model.fit(distinct.reshape(-1, 1), sample_weight=counts).labels_
    # Renumber classes 1..k' by mean value (a class k-means left empty is dropped).
    class_weight = np.bincount(distinct_labels, weights=counts, minlength=k)
    class_sum = np.bincount(distinct_labels, weights=counts * distinct, minlength=k)
    used = np.flatnonzero(class_weight > 0)
    order = used[np.argsort(class_sum[used] / class_weight[used], kind="stable")]
    number_of = np.zeros(k, dtype=np.int32)
    number_of[order] = np.arange(1, len(order) + 1)
    numbers = number_of[distinct_labels][inverse]
    n = len(order)
    table = {"class_number": np.arange(1, n + 1), "n_pixels": np.bincount(numbers, minlength=n + 1)[1:]}
    table["mean_value"] = np.bincount(numbers, weights=values, minlength=n + 1)[1:] / table["n_pixels"]
    table["min_value"] = np.full(n, np.inf)
    table["max_value"] = np.full(n, -np.inf)
    np.minimum.at(table["min_value"], numbers - 1, values)
    np.maximum.at(table["max_value"], numbers - 1, values)
    return numbers, table
