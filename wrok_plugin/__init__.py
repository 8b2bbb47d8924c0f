"""wrok QGIS plugin: the Processing provider and the write-back action for the wrok clustering engine."""

from .engine_path import add_engine_to_path

add_engine_to_path()  # `import core` works from here on, in a checkout, from the zip and in qgis_process


def classFactory(iface):  # noqa: N802 - the name QGIS looks for
    from .plugin import WrokPlugin

    return WrokPlugin(iface)
