"""`make bench` (PostGIS part): writing cluster fields back into a 69,226-row PostGIS table.

Starts a throwaway PostgreSQL 15 + PostGIS server (tests/pg_server.py), loads ../shared/data/grids.parquet
with ogr2ogr (primary key fid), then times the plugin's in-place write (wrok_plugin.writeback.postgis:
primary keys read through the QGIS layer, COPY, one UPDATE, one transaction), twice: once adding the
columns, once overwriting them. Target: <= 15 s.

    .venv/bin/python tests/benchmarks/bench_postgis.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
GRIDS = REPO.parent / "shared" / "data" / "grids.parquet"


def grids_geopackage(folder: Path) -> Path:
    """GDAL 3.6 reads no Parquet: hand ogr2ogr a GeoPackage (in a subprocess, away from QGIS)."""
    path = folder / "grids.gpkg"
    subprocess.run([sys.executable, "-c", "import geopandas, sys; geopandas.read_parquet(sys.argv[1])"
                    ".to_file(sys.argv[2])", str(GRIDS), str(path)], check=True)
    return path


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from pg_server import PostgresServer
    from qgis.core import QgsApplication, QgsDataSourceUri, QgsVectorLayer

    from wrok_plugin.writeback.postgis import check_postgis_layer, write_postgis

    app = QgsApplication([], False)
    app.initQgis()
    with PostgresServer() as server, tempfile.TemporaryDirectory() as folder:
        db = server.create_database("bench")
        env = {**os.environ, **server.libpq_env(db)}
        subprocess.run(["ogr2ogr", "-f", "PostgreSQL", f"PG:dbname={db}", str(grids_geopackage(Path(folder))),
                        "-nln", "grids", "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid"], check=True, env=env)
        uri = QgsDataSourceUri()
        uri.setConnection(server.socket_dir, server.libpq_env()["PGPORT"], db, "postgres", "")
        uri.setDataSource("public", "grids", "geom", "", "fid")
        layer = QgsVectorLayer(uri.uri(False), "grids", "postgres")
        fids = sorted(feature.id() for feature in layer.getFeatures())
        n = len(fids)
        result = SimpleNamespace(cluster_id=np.array([f"CLUSTER_{i // 240:04d}" for i in range(n)], dtype=object),
                                 cluster_weight=np.full(n, 240.0), cluster_pass=np.ones(n, dtype=np.int64))
        names = ("cluster_id", "cluster_weight", "cluster_pass")
        for label in ("adding the columns", "overwriting them"):
            start = time.perf_counter()
            check_postgis_layer(layer, names)
            updated = write_postgis(layer, names, fids, result)
            print(f"PostGIS in-place write, {updated:,} rows, {label}: {time.perf_counter() - start:.2f} s "
                  "(target <= 15 s)")
            layer = QgsVectorLayer(uri.uri(False), "grids", "postgres")  # sees the new columns
        assert server.psql(db, "SELECT count(*) FROM grids WHERE cluster_id IS NOT NULL") == str(n)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
