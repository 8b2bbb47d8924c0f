"""Errors that leave nothing of ours alive.

QGIS keeps the exception an algorithm raised (sip hands it to C++), and the exception's traceback
keeps every frame it passed through with all their locals: the layers we opened, and through them
their files, stay open until QGIS exits. Freed then, after QGIS has shut GDAL down, they crash it.
"""

from __future__ import annotations

import functools
import traceback


def forget_locals(error: BaseException) -> None:
    """Clear the finished frames of error's traceback and of the errors it was raised from."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)  # skips frames still running
        error = error.__cause__ or error.__context__


def releases_locals_on_error(method):
    """For processAlgorithm and friends: an error propagates with its message, not our layers."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except BaseException as error:
            forget_locals(error)
            raise

    return wrapper
