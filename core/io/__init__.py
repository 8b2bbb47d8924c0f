"""File, PostGIS and raster adapters for the command line and the Lambda (geopandas, GDAL, psycopg2)."""
