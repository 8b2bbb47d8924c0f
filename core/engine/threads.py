"""One native thread for scikit-learn's k-means while wrok runs it.

MiniBatchKMeans works in steps over at most 1,024 points: too little work to share
between threads. On a busy 2-core machine, OpenMP and BLAS threads made each fit 2 to 30
times slower (threads waiting for each other), and wrok's own threads (n_jobs) would
oversubscribe the cores. Labels do not depend on the thread count (checked on the shared
data and the fidelity cases); only a batch's inertia sum, used for early stopping, is
added up in another order.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_pools = {}  # made on first use, once scikit-learn has loaded its native libraries
_blas = {"users": 0, "limiter": None}


def _controller(user_api: str):
    if user_api not in _pools:
        _pools[user_api] = ThreadpoolController().select(user_api=user_api)
    return _pools[user_api]


@contextmanager
def single_native_thread():
    """OpenMP's thread count is per calling thread; BLAS's is process-wide, so it stays at
    one while any caller is inside and is restored when the last one leaves."""
    with _lock:
        openmp = _controller("openmp")
        if _blas["users"] == 0:
            _blas["limiter"] = _controller("blas").limit(limits=1)
        _blas["users"] += 1
    try:
        with openmp.limit(limits=1):
            yield
    finally:
        with _lock:
            _blas["users"] -= 1
            if _blas["users"] == 0:
                _blas["limiter"].restore_original_limits()
