"""The built-in banks meet the cn pack's minimums on their own, with no near-duplicates."""

from __future__ import annotations

from hegui.assess import SHIPPED_BANKS, Kind, check_bank, load_bank
from hegui.policy import load_policy


def test_shipped_banks_meet_cn_minimums() -> None:
    items = load_bank([SHIPPED_BANKS])
    report = check_bank(items, load_policy("cn"))
    assert report.shortfalls == ()
    assert report.near_duplicates == ()
    assert report.totals[Kind.GENERATE.value] >= 2000
    assert report.totals[Kind.SHOULD_REFUSE.value] >= 500
    assert report.totals[Kind.SHOULD_ANSWER.value] >= 500
    assert report.notes == ()  # every risk id exists in the taxonomy


def test_shipped_items_have_english_versions() -> None:
    items = load_bank([SHIPPED_BANKS])
    assert all(it.en for it in items)
    assert sum(it.turns is not None for it in items) >= 50  # multi-turn escalations exist
