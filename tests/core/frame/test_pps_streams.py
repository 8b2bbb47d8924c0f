"""Replacement order along the frame, and each stratum's own random stream (issue 20)."""

import zlib

import numpy as np
import pytest

from core import ClusteringInputError
from core.frame.pps import read_sample_size_csv, select_pps

SEEDS = 2_000


def symmetric_frame(n_clusters=40):
    """Sizes that read the same from either end: a fair draw puts every rank at 0.5 on average."""
    half = np.random.default_rng(3).gamma(2.0, 40.0, size=n_clusters // 2)
    sizes = np.concatenate([half, half[::-1]])
    ids = np.array([f"C{i:03d}" for i in range(n_clusters)], dtype=object)
    return ids, sizes


def test_every_replacement_rank_sits_midway_along_the_frame_on_average():
    ids, sizes = symmetric_frame()
    n, reserve = 4, 5
    positions = np.empty((SEEDS, reserve))
    for seed in range(SEEDS):
        sample = select_pps(ids, sizes, n, seed=seed, replacements=reserve)
        rows = sample.index[sample.replacement]
        assert sample.selection_order[sample.replacement].tolist() == list(range(n + 1, n + reserve + 1))
        positions[seed] = (rows + 0.5) / len(ids)
    means = positions.mean(axis=0)
    standard_error = positions.std(axis=0, ddof=1) / np.sqrt(SEEDS)
    # In frame order rank 1 averaged 0.17 and rank 5 0.93 of the way along; 4 standard errors is ~0.03.
    assert np.all(np.abs(means - 0.5) < 4 * standard_error), (means, standard_error)


def test_replacements_are_the_same_clusters_as_a_second_systematic_draw_and_the_main_sample_is_kept():
    ids, sizes = symmetric_frame()
    plain = select_pps(ids, sizes, 4, seed=12)
    reserve = select_pps(ids, sizes, 4, seed=12, replacements=5)
    assert reserve.index[~reserve.replacement].tolist() == plain.index.tolist()
    orders = {tuple(select_pps(ids, sizes, 4, seed=seed, replacements=5).index[4:]) for seed in range(30)}
    assert any(list(order) != sorted(order) for order in orders)  # not frame order


def test_strata_whose_names_share_a_crc32_draw_independent_starts():
    first, second = "PSGC1100139929_urban", "PSGC1100262180_not-urban"
    assert zlib.crc32(first.encode()) == zlib.crc32(second.encode())
    sizes = np.tile(np.arange(1.0, 21.0), 2)  # the same frame in both strata
    strata = np.array([first] * 20 + [second] * 20, dtype=object)
    ids = np.array([f"C{i:03d}" for i in range(40)], dtype=object)
    starts = np.array([[s["start"] for s in select_pps(ids, sizes, 3, strata, seed=seed).strata]
                       for seed in range(300)])
    assert np.all(starts[:, 0] != starts[:, 1])
    # Independent uniform starts: their correlation over 300 seeds is within ~4 standard errors of 0.
    assert abs(np.corrcoef(starts[:, 0], starts[:, 1])[0, 1]) < 4 / np.sqrt(300)


def test_seeds_that_differ_by_two_to_the_32_give_different_samples():
    ids, sizes = symmetric_frame()
    for seed in (0, 5, 123):
        low = select_pps(ids, sizes, 4, seed=seed).strata[0]["start"]
        high = select_pps(ids, sizes, 4, seed=seed + 2**32).strata[0]["start"]
        assert low != high
    assert select_pps(ids, sizes, 4, seed=2**64 - 1).index.tolist() == \
        select_pps(ids, sizes, 4, seed=2**64 - 1).index.tolist()


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5])
def test_a_seed_outside_the_range_is_refused(seed):
    ids, sizes = symmetric_frame()
    with pytest.raises(ClusteringInputError, match="the seed must be a whole number from 0 to"):
        select_pps(ids, sizes, 4, seed=seed)


def test_n_zero_is_an_error_unless_the_stratum_is_marked_not_sampled(tmp_path):
    table = tmp_path / "sizes.csv"
    table.write_text("stratum,n,replacements\na,2,1\nb,0,\n")
    with pytest.raises(ClusteringInputError, match="n for stratum 'b' is 0.*'not sampled'"):
        read_sample_size_csv(table, "stratum")
    table.write_text("stratum,n,replacements\na,2,1\nb,not sampled,\n")
    sizes = read_sample_size_csv(table, "stratum", default_replacements=2)
    assert sizes == {"a": (2, 1), "b": (0, 0)}
    sample = select_pps(list("pqrstu"), [1, 2, 3, 4, 5, 6], sizes, list("aaabbb"), seed=1)
    assert set(sample.stratum) == {"a"} and len(sample) == 3
    assert [s["sampled"] for s in sample.strata] == [True, False]
    table.write_text("stratum,n,replacements\na,2,1\nb,Not Sampled,1\n")
    with pytest.raises(ClusteringInputError, match="'b' is marked 'not sampled' but asks for replacements"):
        read_sample_size_csv(table, "stratum")
