"""k-means runs on one native thread, and the host's thread settings survive it (QGIS shares them)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

from core.engine.partition import kmeans_labels


def _thread_counts():
    return sorted((info["filepath"], info["num_threads"]) for info in ThreadpoolController().info())


def test_thread_settings_are_restored_after_concurrent_fits_that_match_serial_ones():
    rng = np.random.default_rng(8)
    x, y, w = rng.uniform(0, 5000, 3000), rng.uniform(0, 5000, 3000), rng.lognormal(0, 1, 3000)
    kmeans_labels(x, y, w, 3, 0.1, 42)  # scikit-learn's native libraries are loaded from here on
    before = _thread_counts()
    serial = [kmeans_labels(x, y, w, k, 0.1, 42) for k in range(2, 14)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda k: kmeans_labels(x, y, w, k, 0.1, 42), range(2, 14)))
    assert _thread_counts() == before
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)
