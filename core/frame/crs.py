"""Which CRS radii are measured in: ONE rule for the CLI, the plugin and the Lambda.

The rule works on plain facts (codes, flags, bounds) so the plugin can feed it from
QgsCoordinateReferenceSystem and the CLI from pyproj; neither library is imported here,
and numpy only inside the radius functions (the plugin loads this without numpy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from ..params import ClusteringInputError

UTM_ZONE_WIDTH_DEG = 6.0
# Mean Earth radius is not enough for 1 %: local radii use the ellipsoid's curvature at each centre.
WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563


@dataclass(frozen=True)
class CrsFacts:
    """What the rule needs to know about one CRS."""

    label: str  # e.g. "EPSG:32651", for messages and to build the CRS again
    known: bool = True
    geographic: bool = False
    in_metres: bool = True
    units: str = "metre"


@dataclass(frozen=True)
class MeasuringChoice:
    crs: str  # the CRS to project into: "EPSG:..." or the layer's own label
    reason: str  # "requested", "layer" or "utm"
    per_cluster_local: bool = False  # re-measure each cluster's radius around its own centre
    layer_crs: Optional[str] = None  # set when the layer has none: its coordinates are in this CRS


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 UTM zone containing (lon, lat): 326zz north, 327zz south."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValueError(f"({lon}, {lat}) is not a longitude/latitude position")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def _looks_like_degrees(bounds) -> bool:
    west, south, east, north = bounds
    return -180.0 <= west <= east <= 180.0 and -90.0 <= south <= north <= 90.0


def _check_requested(requested: CrsFacts) -> None:
    if not requested.known:
        raise ClusteringInputError(f"{requested.label} is not a known coordinate reference system")
    if requested.geographic:
        raise ClusteringInputError(f"{requested.label} is geographic (degrees); give a projected CRS in metres")
    if not requested.in_metres:
        raise ClusteringInputError(f"{requested.label} measures in {requested.units}, not metres")


def choose_measuring_crs(requested: Optional[CrsFacts], layer: Optional[CrsFacts],
                         layer_bounds: Tuple[float, float, float, float],
                         lonlat_bounds: Optional[Tuple[float, float, float, float]] = None,
                         crs_option: str = "a measuring CRS") -> MeasuringChoice:
    """The measuring CRS for a layer.

    requested: the user's measuring CRS or None; layer: the layer's CRS or None when it has none;
    layer_bounds: the features' extent in the layer's coordinates; lonlat_bounds: the same in
    EPSG:4326 (needed only for a geographic layer; the caller transforms the box).
    """
    if requested is not None:
        _check_requested(requested)
        if layer is None:
            # No CRS + an explicit one: the coordinates are in that CRS, unless they plainly are degrees.
            if _looks_like_degrees(layer_bounds):
                raise ClusteringInputError(
                    f"the input has no coordinate reference system and its coordinates look like longitude/latitude "
                    f"degrees, not {requested.label} metres; set the layer's CRS (e.g. EPSG:4326)"
                )
            return MeasuringChoice(requested.label, "requested", layer_crs=requested.label)
        return MeasuringChoice(requested.label, "requested")
    if layer is None:
        raise ClusteringInputError(
            "the input has no coordinate reference system; set one, or give "
            f"{crs_option} (a projected CRS in metres) if the coordinates are in it"
        )
    if layer.geographic:
        west, south, east, north = lonlat_bounds if lonlat_bounds is not None else layer_bounds
        try:
            epsg = utm_epsg((west + east) / 2, (south + north) / 2)
        except ValueError:
            raise ClusteringInputError(
                f"the layer says its CRS is {layer.label} (degrees) but its coordinates are not "
                f"longitudes/latitudes; fix the layer's CRS or give {crs_option}"
            ) from None
        # One UTM zone is accurate across its 6 degrees; a wider layer is measured cluster by cluster.
        return MeasuringChoice(f"EPSG:{epsg}", "utm", per_cluster_local=(east - west) > UTM_ZONE_WIDTH_DEG)
    if not layer.in_metres:
        raise ClusteringInputError(f"{layer.label} measures in {layer.units}, not metres; give {crs_option}")
    return MeasuringChoice(layer.label, "layer")


def local_xy(lon, lat, centre_lon, centre_lat):
    """Azimuthal equidistant coordinates (metres) of points around each point's own centre.

    Spherical azimuthal equidistant angles, scaled by the WGS 84 curvature radii at the centre:
    within a few hundred km of the centre this is within 0.1 % of geodesic distances.
    """
    import numpy as np

    lon, lat = np.radians(lon), np.radians(lat)
    lon0, lat0 = np.radians(centre_lon), np.radians(centre_lat)
    dlon = lon - lon0
    cos_c = np.clip(np.sin(lat0) * np.sin(lat) + np.cos(lat0) * np.cos(lat) * np.cos(dlon), -1.0, 1.0)
    c = np.arccos(cos_c)
    k = np.where(c > 1e-12, c / np.maximum(np.sin(c), 1e-300), 1.0)
    e2 = WGS84_F * (2 - WGS84_F)
    w = np.sqrt(1 - e2 * np.sin(lat0) ** 2)
    prime_vertical = WGS84_A / w
    meridional = WGS84_A * (1 - e2) / w ** 3
    x = prime_vertical * k * np.cos(lat) * np.sin(dlon)
    y = meridional * k * (np.cos(lat0) * np.sin(lat) - np.sin(lat0) * np.cos(lat) * np.cos(dlon))
    return x, y


def local_radii(lon, lat, group, n_groups):
    """Each group's minimum-bounding-circle radius in metres, measured around the group's own centre."""
    import numpy as np

    from ..engine.radius import minimum_bounding_circles

    lon, lat, group = np.asarray(lon, float), np.asarray(lat, float), np.asarray(group)
    counts = np.bincount(group, minlength=n_groups)
    # Centre longitude as a circular mean, so groups across the antimeridian stay in one piece.
    angle = np.radians(lon)
    centre_lon = np.degrees(np.arctan2(np.bincount(group, np.sin(angle), n_groups),
                                       np.bincount(group, np.cos(angle), n_groups)))
    centre_lat = np.bincount(group, lat, n_groups) / np.maximum(counts, 1)
    x, y = local_xy(lon, lat, centre_lon[group], centre_lat[group])
    return minimum_bounding_circles(x, y, group, n_groups)[2]


def remeasure_radii_locally(result, lon, lat, owner=None) -> None:
    """Replace result.clusters['radius_m'] by radii measured around each cluster's centre.

    lon/lat: the positions (features, or vertices with owner = their feature index) in degrees.
    """
    import numpy as np

    table = result.clusters
    row = {str(name): i for i, name in enumerate(table["cluster_id"])}
    feature_row = np.array([row[str(name)] for name in result.cluster_id], dtype=np.int64)
    group = feature_row if owner is None else feature_row[np.asarray(owner)]
    table["radius_m"] = local_radii(lon, lat, group, len(row))
