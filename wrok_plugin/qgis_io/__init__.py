"""QGIS layers to the engine's arrays and back: inputs, outputs, styles."""
