from __future__ import annotations

import pytest
from pydantic import ValidationError

from alerts.keywords import CrisisKeyword, crisis_holds, crisis_in_window


def test_crisis_in_window_sums_counts_and_keeps_the_widest_reach() -> None:
    crisis = {0: (2, 10), 900: (1, 300_000), 1800: (4, 20), 2700: (9, 10**7)}
    assert crisis_in_window(crisis, 900, 1800) == (5, 300_000)  # 0 is before, 2700 after the window
    assert crisis_in_window(None, 0, 2700) == (0, 0) and crisis_in_window({}, 0, 0) == (0, 0)


def test_crisis_holds_on_reach_or_on_mentions() -> None:
    both = CrisisKeyword(min_followers=100_000, min_mentions=5)
    assert crisis_holds(both, 1, 100_000) and crisis_holds(both, 5, 0)
    assert not crisis_holds(both, 4, 99_999) and not crisis_holds(both, 0, 10**9)
    assert not crisis_holds(CrisisKeyword(min_mentions=3), 1, 10**9)  # reach alone is not asked for
    with pytest.raises(ValidationError, match="min_followers and/or min_mentions"):
        CrisisKeyword()
