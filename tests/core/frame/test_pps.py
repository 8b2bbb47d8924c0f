"""Systematic PPS selection: probabilities, the 10,000-draw simulation, replacements, errors."""

import numpy as np
import pytest

from core import ClusteringInputError
from core.frame.pps import (
    inclusion_probabilities,
    read_sample_size_csv,
    sample_sizes_from_rows,
    select_pps,
    systematic_hits,
)

DRAWS = 10_000


def frame():
    """Two strata: 'north' has a certainty unit that only shows after the first is removed."""
    rng = np.random.default_rng(7)
    north = np.array([100.0, 60.0, 20.0, 10.0, 10.0])
    south = rng.gamma(2.0, 50.0, size=25)
    south[4] = 900.0  # above the interval on its own
    sizes = np.concatenate([north, south])
    strata = np.array(["north"] * len(north) + ["south"] * len(south), dtype=object)
    ids = np.array([f"C{i:03d}" for i in range(len(sizes))], dtype=object)
    return ids, sizes, strata


def test_certainty_units_cascade_until_none_is_left():
    pi, certainty = inclusion_probabilities([100.0, 60.0, 20.0, 10.0, 10.0], 3)
    # Interval 200/3: 100 is certain; then 100/2 = 50: 60 is certain; then 40/1: none.
    assert certainty.tolist() == [True, True, False, False, False]
    assert np.allclose(pi, [1, 1, 0.5, 0.25, 0.25])


def test_probabilities_are_proportional_to_size_and_sum_to_n():
    sizes = np.arange(1.0, 21.0)
    pi, certainty = inclusion_probabilities(sizes, 4)
    assert not certainty.any()
    assert np.allclose(pi, 4 * sizes / sizes.sum())
    assert pi.sum() == pytest.approx(4)


def test_a_systematic_draw_hits_each_unit_under_its_share_of_the_line():
    sizes = np.array([4.0, 1.0, 2.0, 3.0, 2.0, 4.0, 4.0])  # cumulated 4 5 7 10 12 16 20; n 4: interval 5
    assert systematic_hits(sizes, 4, 0.0).tolist() == [1, 3, 5, 6]  # start 5: hits 5, 10, 15, 20
    assert systematic_hits(sizes, 4, 0.9).tolist() == [0, 2, 4, 5]  # start 0.5: hits 0.5, 5.5, 10.5, 15.5
    assert systematic_hits(sizes, 4, 0.5).tolist() == [0, 3, 5, 6]  # start 2.5: hits 2.5, 7.5, 12.5, 17.5


def test_simulation_inclusion_frequencies_match_probabilities():
    ids, sizes, strata = frame()
    plan = {"north": (3, 0), "south": (6, 0)}
    expected = np.empty(len(sizes))
    certain = np.zeros(len(sizes), dtype=bool)
    for key, (n, _) in plan.items():
        rows = np.flatnonzero(strata == key)
        expected[rows], certain[rows] = inclusion_probabilities(sizes[rows], n)
    assert certain.sum() == 3  # two in the north (one by cascade), one in the south

    hits = np.zeros(len(sizes))
    for seed in range(DRAWS):
        sample = select_pps(ids, sizes, dict(plan), strata, seed=seed)
        assert len(sample) == 9 and len(set(sample.index.tolist())) == 9
        assert certain[sample.index].sum() == 3 and sample.certainty.sum() == 3  # certainty units always in
        hits[sample.index] += 1
    frequency = hits / DRAWS
    standard_error = np.sqrt(expected * (1 - expected) / DRAWS)
    assert np.all(frequency[certain] == 1.0)
    off = np.abs(frequency - expected) > 3 * standard_error
    assert not off.any(), list(zip(ids[off], frequency[off], expected[off]))


def test_sample_rows_carry_probability_weight_order_and_flags():
    ids, sizes, strata = frame()
    plan = {"north": (3, 2), "south": (6, 2)}
    sample = select_pps(ids, sizes, plan, strata, seed=11)
    for key, (n, r) in plan.items():
        mine = sample.stratum == key
        assert sample.selection_order[mine].tolist() == list(range(1, n + r + 1))
        assert sample.replacement[mine].tolist() == [False] * n + [True] * r
        assert set(strata[sample.index[mine]]) == {key}
        main, reserve = sample.index[mine][:n], sample.index[mine][n:]
        assert not set(main) & set(reserve)
        pi = inclusion_probabilities(sizes[strata == key], n)[0]
        offset = np.flatnonzero(strata == key)[0]
        assert np.allclose(sample.inclusion_prob[mine], pi[sample.index[mine] - offset])
    assert np.allclose(sample.design_weight, 1 / sample.inclusion_prob)
    assert not sample.certainty[sample.replacement].any()
    assert [s["certainty"] for s in sample.strata] == [2, 1]


def test_replacements_leave_the_main_sample_unchanged_and_seeds_reproduce():
    ids, sizes, strata = frame()
    plain = select_pps(ids, sizes, 4, strata, seed=5)
    with_reserve = select_pps(ids, sizes, 4, strata, seed=5, replacements=1)
    assert plain.index.tolist() == with_reserve.index[~with_reserve.replacement].tolist()
    assert select_pps(ids, sizes, 4, strata, seed=5).index.tolist() == plain.index.tolist()
    assert select_pps(ids, sizes, 4, strata, seed=6).index.tolist() != plain.index.tolist()


def test_a_stratum_sample_does_not_depend_on_the_other_strata():
    ids, sizes, strata = frame()
    both = select_pps(ids, sizes, 4, strata, seed=9)
    south = strata == "south"
    alone = select_pps(ids[south], sizes[south], 4, strata[south], seed=9)
    assert ids[both.index[both.stratum == "south"]].tolist() == ids[south][alone.index].tolist()


def test_sample_size_table_matches_numeric_and_text_strata(tmp_path):
    table = tmp_path / "sizes.csv"
    table.write_text("PSGC,n,replacements\n1401,2,1\n1402,1,\n")
    sizes = read_sample_size_csv(table, "PSGC")
    assert sizes == {"1401": (2, 1), "1402": (1, 0)}
    sample = select_pps(["a", "b", "c", "d", "e"], [1, 2, 3, 4, 5], sizes, [1401, 1401, 1401.0, 1402, 1402], seed=1)
    assert sorted(sample.stratum.tolist()) == ["1401", "1401", "1401", "1402"]


@pytest.mark.parametrize("sizes, n, strata, message", [
    ([1, 2, 3], 4, None, "the layer has 3 cluster(s) but n = 4"),
    ([1, 2, 3, 4], 2, ["a", "a", "b", "b"], "stratum 'a' has 2 cluster(s): not enough for 2 PSUs and 1"),
    ([1, 0, 3], 1, None, "1 cluster(s) have a zero or negative weight, which PPS cannot select: b"),
    ([1, -2, 3], 1, None, "zero or negative weight"),
    ([1, np.nan, 3], 1, None, "1 cluster(s) have no weight (empty or not a number): b"),
    ([1, 2, 3], 1, ["a", None, "b"], "1 cluster(s) have no stratum value: b"),
    ([1, 2, 3], 0, None, "the number of PSUs per stratum must be >= 1"),
    ([1, 2, 3], 1.5, None, "must be a whole number"),
    ([1, 2, 3], {"a": (1, 0)}, ["a", "b", "b"], "no row for stratum(s) b"),
    ([1, 2, 3], {"a": (1, 0), "b": (1, 0), "c": (1, 0)}, ["a", "b", "b"], "does not have: c"),
])
def test_bad_frames_fail_naming_the_problem(sizes, n, strata, message):
    ids = ["a", "b", "c", "d"][:len(sizes)]
    replacements = 1 if "replacement" in message or "not enough" in message else 0
    with pytest.raises(ClusteringInputError) as error:
        select_pps(ids, sizes, n, strata, seed=1, replacements=replacements)
    assert message in str(error.value)


def test_duplicate_cluster_ids_are_refused():
    with pytest.raises(ClusteringInputError, match="appear more than once.*: a"):
        select_pps(["a", "b", "a"], [1, 2, 3], 1)


@pytest.mark.parametrize("rows, message", [
    ([{"region": "a", "n": "2"}], "needs a column 'PSGC' or 'stratum'"),
    ([{"stratum": "a", "size": "2"}], "needs a column 'n'"),
    ([{"stratum": "a", "n": "two"}], "n for stratum 'a' must be a whole number"),
    ([{"stratum": "a", "n": "2"}, {"stratum": "a", "n": "3"}], "lists stratum 'a' twice"),
    ([{"stratum": "", "n": "2"}], "row 1 has no stratum value"),
    ([], "has no rows"),
])
def test_bad_sample_size_tables_fail_naming_the_problem(rows, message):
    with pytest.raises(ClusteringInputError) as error:
        sample_sizes_from_rows(rows, "PSGC", "sizes.csv")
    assert message in str(error.value)
