"""The reports' maps let a reader tell every cluster apart, see the flagged ones, and find the PSUs (issue 20)."""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.image import imread
from test_report import images, made_result

from core.frame.pps import select_pps
from core.report.html import Targets, cluster_map, cluster_map_style, parameter_rows, render_report
from core.report.sample import render_sample_report


def squares(n, size=1000.0):
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], float) * size
    return [square + [size * 1.1 * (i % 5), size * 1.1 * (i // 5)] for i in range(n)]


def pixels(png_bytes):
    return (imread(io.BytesIO(png_bytes), format="png")[..., :3] * 255).round().astype(int)


def has_colour(picture, hex_colour, tolerance=3):
    wanted = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return bool(np.any(np.all(np.abs(picture - wanted) <= tolerance, axis=-1)))


def test_every_cluster_gets_its_own_colour_and_the_flagged_ones_a_marked_border():
    weights = [240, 245, 100, 250, 350, 238, 242, 236, 239, 241]
    result = made_result(weights, np.full(len(weights), 500.0))
    style = cluster_map_style(result.clusters, Targets(result))
    assert len(set(style.faces)) == len(weights)  # no two clusters share a colour
    assert style.hatches[2] == "///" and style.edges[2] == "#ff7f00"  # 100: out of band
    assert style.hatches[4] == "xxx" and style.edges[4] == "#e41a1c"  # 350: over the max of 300
    assert all(style.hatches[i] is None for i in (0, 1, 3, 5, 6, 7, 8, 9))
    picture = pixels(base64.b64decode(cluster_map(squares(len(weights)), result.clusters, Targets(result))))
    assert has_colour(picture, "#ff7f00") and has_colour(picture, "#e41a1c")  # the flags are drawn


def test_labels_go_where_they_fit():
    from core.report.html import new_figure
    from core.report.maps import MapLayer, draw_map

    big, tiny = squares(2, size=1000.0)[0], squares(2, size=1.0)[1] + [5000, 5000]
    figure = new_figure(7.0, 7.0)
    style = MapLayer(["#ff0000", "#00ff00"], ["#000000"] * 2, [0.5, 0.5], [None, None], [("07",), ("08",)])
    axes = draw_map(figure, [big, tiny], style)
    assert [text.get_text() for text in axes.texts] == ["07"]  # a 1 m square at this scale has no room


def test_the_parameter_table_uses_the_labels_users_set_and_only_what_applied():
    result = made_result([240, 250], [500, 600])
    rows = parameter_rows(result.params)
    assert rows["target weight (--target-weight)"] == 240 and rows["maximum weight (--max-weight)"] == 300
    assert "reassignment ratio (--reassignment-ratio)" not in rows  # compact strategy: not used
    text = render_report(result, outlines=squares(2))
    assert "minibatch_reassignment_ratio" not in text and "desired_cluster_radius" not in text


def test_the_sample_map_shows_psus_and_replacements_labelled_in_selection_order():
    sizes = np.random.default_rng(5).gamma(2.0, 50.0, 20)
    ids = np.array([f"CLUSTER_{i + 1:02d}" for i in range(20)], dtype=object)
    sample = select_pps(ids, sizes, 3, seed=4, replacements=2)
    text = render_sample_report(sample, ids, sizes, outlines=squares(20))
    picture = pixels(images(text)[0])
    assert has_colour(picture, "#377eb8", 12) and has_colour(picture, "#ff7f00", 12)  # PSUs and replacements
    assert "reserve probability given the PSUs" in text
    rest = np.setdiff1d(np.arange(20), sample.index[~sample.replacement])
    expected = 2 * sizes[sample.index[sample.replacement]] / sizes[rest].sum()
    assert np.allclose(sample.reserve_prob[sample.replacement], expected)
    assert np.isnan(sample.reserve_prob[~sample.replacement]).all()
