"""Cancel a scikit-learn MiniBatchKMeans fit between its mini-batch steps, with its arithmetic unchanged.

One seed-mode fit on a country grid takes seconds; checking only between Optuna trials made a
cancel wait for the whole fit. MiniBatchKMeans.fit calls the module function `_mini_batch_step`
once per batch, so that function is wrapped (once, process-wide): the wrapper asks the current
thread's cancel check, then runs the original with the same arguments. Labels stay bit-identical;
outside `cancellable_fits` the wrapper only looks up a thread-local. If a scikit-learn version lacks
the function, fits simply run to the end and cancel is checked between trials as before.
"""

from __future__ import annotations

import contextlib
import threading

from sklearn.cluster import _kmeans

_ORIGINAL_STEP = getattr(_kmeans, "_mini_batch_step", None)
_current = threading.local()
_install_lock = threading.Lock()


def _checked_step(*args, **kwargs):
    check = getattr(_current, "check", None)
    if check is not None:
        check()
    return _ORIGINAL_STEP(*args, **kwargs)


def _install() -> bool:
    if _ORIGINAL_STEP is None:
        return False
    with _install_lock:
        if _kmeans._mini_batch_step is not _checked_step:
            _kmeans._mini_batch_step = _checked_step
    return True


@contextlib.contextmanager
def cancellable_fits(check):
    """Within this block, MiniBatchKMeans fits on this thread call check() before each mini-batch."""
    if not _install():
        yield
        return
    previous = getattr(_current, "check", None)
    _current.check = check
    try:
        yield
    finally:
        _current.check = previous
