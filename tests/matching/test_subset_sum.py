"""The bounded subset-sum search behind unlinked settlements."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hisaab.matching.subset_sum import find_subsets


def test_finds_the_two_payments_that_make_the_credit() -> None:
    # nets of 971.00, 485.50, 291.30 and 0.10; the credit is 1,456.50
    assert find_subsets([97_100, 48_550, 29_130, 10], 145_650, tolerance=0, max_size=12) == [(0, 1)]


def test_reports_at_most_two_solutions_when_several_exist() -> None:
    assert len(find_subsets([100, 200, 300, 400, 500], 700, tolerance=0, max_size=12)) == 2


def test_a_settlement_of_one_payment_is_found() -> None:
    assert find_subsets([700, 1, 2], 700, tolerance=0, max_size=12) == [(0,)]


def test_group_size_is_bounded() -> None:
    assert find_subsets([1] * 10, 10, tolerance=0, max_size=9) == []


def test_tolerance_admits_a_paisa_of_rounding() -> None:
    assert find_subsets([33_333, 33_333, 33_333], 99_998, tolerance=1, max_size=3) == [(0, 1, 2)]


@given(st.lists(st.integers(1, 10**7), min_size=2, max_size=14), st.data())
def test_every_reported_subset_adds_up(nets: list[int], data: st.DataObject) -> None:
    chosen = data.draw(st.sets(st.integers(0, len(nets) - 1), min_size=2, max_size=len(nets)))
    target = sum(nets[i] for i in chosen)
    found = find_subsets(nets, target, tolerance=0, max_size=len(nets), enough=1 << 14)
    assert found
    assert all(sum(nets[i] for i in sol) == target for sol in found)
    assert tuple(sorted(chosen)) in found
