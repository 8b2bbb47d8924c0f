"""Splitting a country layer by region."""

from __future__ import annotations

import re

import boto3
import geopandas as gpd
import numpy as np
import pytest
from moto import mock_aws

from aws.split import NO_REGION, safe_name, split_by_region
from core import ClusteringInputError
from core.synthetic import clumped_population_frame


@pytest.fixture(scope="module")
def frame():
    layer = clumped_population_frame(600, seed=2)
    names = np.array(["Région Nord/1", "Région Nord 1", "south", "SOUTH", None, "", "_no_region"], dtype=object)
    layer["region"] = names[np.arange(len(layer)) % len(names)]
    return layer


def test_every_feature_lands_in_exactly_one_safely_named_file(frame, tmp_path):
    written = split_by_region(frame, "region", tmp_path)
    names = [entry["name"] for entry in written]
    assert len(set(n.lower() for n in names)) == len(names) == 6  # 5 distinct values + _no_region
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", n) for n in names) and NO_REGION in names
    assert safe_name("Région Nord/1") == "R_gion_Nord_1"
    parts = [gpd.read_parquet(entry["path"]) for entry in written]
    cells = np.concatenate([part["cell_id"].to_numpy() for part in parts])
    assert sorted(cells) == sorted(frame["cell_id"]) and len(set(cells)) == len(frame)
    for entry, part in zip(written, parts):
        assert len(part) == entry["features"] and part.crs == frame.crs
        if entry["name"] == NO_REGION:
            assert entry["region"] is None and part["region"].fillna("").eq("").all()
        else:
            assert (part["region"] == entry["region"]).all()


def test_missing_region_field_is_an_error(frame, tmp_path):
    with pytest.raises(ClusteringInputError, match="'province' not found"):
        split_by_region(frame, "province", tmp_path)


def test_numeric_regions_and_paths_as_input(tmp_path):
    layer = clumped_population_frame(100, seed=4)
    layer["code"] = np.where(layer["cell_id"] < 30, 101.0, 202.0)
    source = tmp_path / "country.parquet"
    layer.to_parquet(source)
    written = split_by_region(source, "code", tmp_path / "out")
    assert {(e["name"], e["features"]) for e in written} == {("101", 30), ("202", 70)}


def test_split_to_s3_prefix():
    layer = clumped_population_frame(50, seed=5)
    layer["r"] = np.where(layer["cell_id"] % 2 == 0, "even", "odd")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="wrok-split", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        written = split_by_region(layer, "r", "s3://wrok-split/in/ph/", s3=s3)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="wrok-split")["Contents"])
    assert keys == sorted(e["key"] for e in written) == ["in/ph/even.parquet", "in/ph/odd.parquet"]
