"""The HTML report of a wrok:tunedclustering run, drawn by core.report.html from the layer's own arrays."""

from __future__ import annotations


def write_run_report(path, arrays, result, settings, layer_name: str) -> str:
    """Write the report to path (cluster outlines from the features' vertices in the measuring CRS)."""
    import numpy as np

    from core.engine.hulls import convex_hulls
    from core.report.html import write_report

    coords, owner = arrays.hull_coordinates()
    row_of = {name: row for row, name in enumerate(result.clusters["cluster_id"].astype(str))}
    feature_row = np.fromiter((row_of[name] for name in result.cluster_id.astype(str)), dtype=np.int64,
                              count=len(result.cluster_id))
    outlines = convex_hulls(coords[:, 0], coords[:, 1], feature_row[owner], len(row_of))
    inputs = {"input layer": layer_name, "weight field": settings.weight_field or "(every feature weighs 1)",
              "measuring CRS": arrays.measuring_crs.authid()}
    write_report(path, result, outlines=outlines, inputs=inputs, title=f"wrok clustering report: {layer_name}")
    return str(path)


def write_raster_report(path, result, polygons, crs, layer_name: str, measuring_authid: str) -> str:
    """The report of a raster run; the map shows the dissolved pixel polygons (polygons: number -> WKB)."""
    import numpy as np
    from qgis.core import QgsGeometry

    from core.report.html import degree_stretch, write_report

    outlines, latitudes = [], []
    for number in range(1, len(result.clusters["cluster_id"]) + 1):
        geometry = QgsGeometry()
        geometry.fromWkb(polygons[number])
        geometry.convertToMultiType()
        parts = [np.array([(p.x(), p.y()) for p in polygon[0]]) for polygon in geometry.asMultiPolygon()]
        outlines.append(parts)
        latitudes.extend(part[:, 1].mean() for part in parts)
    inputs = {"input raster": layer_name, "measuring CRS": measuring_authid}
    write_report(path, result, outlines=outlines, inputs=inputs, title=f"wrok clustering report: {layer_name}",
                 outline_kind="pixel squares dissolved per cluster",
                 y_stretch=degree_stretch(latitudes) if crs.isGeographic() else 1.0)
    return str(path)
