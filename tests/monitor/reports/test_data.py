"""Report figures from a hand-built week of mentions and alerts, on SQLite and PostgreSQL.

The expected numbers are worked out by hand in the comments; the corrections go through the
analysts' real correction path (monitor/store/corrections.py), which acts on mention_brands.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from alerts import escalation
from alerts.kpi import crisis_kpis
from alerts.plan import CrisisPlan
from monitor.errors import BrandPulseError
from monitor.reports.data import gather
from monitor.reports.period import Period
from monitor.store import corrections

from .conftest import BRANDS, LAST_DAY, TZ, local, mention, write

PERIOD = Period.week(LAST_DAY, TZ)  # Mon 2026-11-16 .. Sun 2026-11-22
D = PERIOD.first_day
NOW = local(D + timedelta(days=7), 10)  # Monday after, 10:00


def _fire(conn: sa.Connection, brand: str, level: str, at, *, drill: bool = False) -> int:
    alert = escalation.fire(conn, brand=brand, level=level, group_key=f"{brand}:{at.timestamp()}", now=at,
                            ack_deadline=at + timedelta(minutes=30), summary=f"{brand} negative spike <b>x</b>",
                            evidence={}, reason="test", drill=drill)
    return alert.id


@pytest.fixture
def history(store: sa.Engine) -> dict[str, int]:
    ids: dict[str, int] = {}
    batch = [
        # previous week (Mon 11-09 .. Sun 11-15): acme 2 neutral + 1 negative on 11-10, and one positive at
        # 23:30 local on Sunday 11-15 (15:30 UTC: the same UTC day as the next mention, another local week)
        mention("acme", local(D - timedelta(days=6), 10), "neutral"),
        mention("acme", local(D - timedelta(days=6), 10), "neutral"),
        mention("acme", local(D - timedelta(days=6), 10), "negative"),
        mention("acme", local(D - timedelta(days=1), 23, 30), "positive"),
        mention("gamma", local(D - timedelta(days=4), 9), "neutral"),
        mention("gamma", local(D - timedelta(days=4), 9), "neutral"),
        # this week, acme
        mention("acme", local(D, 0, 30), "negative", author="angry", engagement=10, author_followers=200,
                keywords=("变质", "退款")),
        mention("acme", local(D, 0, 30), "negative", author="angry", engagement=10, author_followers=200,
                keywords=("变质",)),
        *[mention("acme", local(D + timedelta(days=2), 12), "positive", author="财经日报", engagement=100,
                  platform="news", source_id="news-feed", keywords=("新品",)) for _ in range(3)],
        mention(("acme", "beta"), local(D + timedelta(days=3), 10), "negative", author="both", engagement=50,
                keywords=("退款",)),
        *[mention("acme", local(D + timedelta(days=4), 9), "neutral", author="kol1", engagement=1000,
                  author_followers=500_000, platform="twitter", source_id="tweets") for _ in range(4)],
        mention("acme", local(D + timedelta(days=6), 23, 59), "negative", author="late", keywords=("变质",)),
        mention("acme", local(D + timedelta(days=7), 0, 0), "negative", author="next-week"),
        # this week, beta
        *[mention("beta", local(D + timedelta(days=1), 15), "positive", author="fan", engagement=5)
          for _ in range(5)],
    ]
    write(store, batch)
    with store.connect() as conn:
        rows = conn.execute(sa.text("select id, author, platform from mentions order by id")).all()
    news = [r.id for r in rows if r.author == "财经日报"]
    tweets = [r.id for r in rows if r.author == "kol1"]
    at = NOW - timedelta(hours=1)
    corrections.relabel(store, news[0], "negative", by="王五", at=at, note="sarcasm")
    corrections.mark_irrelevant(store, tweets[0], "acme", by="王五", at=at, note="another acme")

    with store.begin() as conn:
        a1 = _fire(conn, "acme", "warning", local(D + timedelta(days=1), 10))
        escalation.acknowledge(conn, a1, "zhang-san", local(D + timedelta(days=1), 10, 10))
        escalation.resolve(conn, a1, "zhang-san", local(D + timedelta(days=1), 12), "statement out")
        a2 = _fire(conn, "acme", "warning", local(D + timedelta(days=3), 9))
        escalation.escalate(conn, a2, to_level="crisis", now=local(D + timedelta(days=3), 9, 30),
                            ack_deadline=local(D + timedelta(days=3), 9, 45), reason="no ack")
        escalation.acknowledge(conn, a2, "li-si", local(D + timedelta(days=3), 9, 50))
        d1 = _fire(conn, "acme", "crisis", local(D + timedelta(days=4), 15), drill=True)
        escalation.acknowledge(conn, d1, "zhang-san", local(D + timedelta(days=4), 15, 5))
        b1 = _fire(conn, "beta", "warning", local(D + timedelta(days=2), 8))
        escalation.acknowledge(conn, b1, "zhang-san", local(D + timedelta(days=2), 8, 20))
        old = _fire(conn, "acme", "warning", local(D - timedelta(days=4), 8))
    ids.update(a1=a1, a2=a2, d1=d1, b1=b1, old=old)
    return ids


def test_brand_report_figures(store: sa.Engine, history: dict[str, int], plan: CrisisPlan) -> None:
    with store.connect() as conn:
        data = gather(conn, PERIOD, brands=BRANDS, scope="acme", plan=plan, now=NOW)
    # acme this week: 2 neg (Mon 00:30 local), 3 news positives of which one relabelled negative,
    # 1 negative shared with beta, 4 neutral tweets of which one marked irrelevant for acme,
    # 1 negative at Sun 23:59; the Monday-after mention is outside.
    assert data.sentiment == {"positive": 2, "neutral": 3, "negative": 5}
    assert data.total == 10 and data.negative_share == 0.5
    assert [sum(d.values()) for d in data.daily] == [2, 0, 3, 1, 3, 0, 1]
    assert data.daily[2] == {"positive": 2, "neutral": 0, "negative": 1}
    # previous week: 3 on Tue 11-10 and the Sunday 23:30 positive
    assert data.previous_total == 4 and data.previous_daily == [0, 3, 0, 0, 0, 0, 1]
    assert data.change == pytest.approx(1.5)
    assert data.previous_negative_share == pytest.approx(0.25)
    rows = {b.id: b for b in data.brands}
    assert (rows["acme"].total, rows["beta"].total, rows["gamma"].total) == (10, 6, 0)
    assert rows["gamma"].previous_total == 2 and [b.id for b in data.brands if b.in_scope] == ["acme"]
    assert data.share_of_voice(rows["acme"]) == pytest.approx(10 / 16)
    assert data.peak_day == (D + timedelta(days=2), 3)

    assert [(p.name, p.total, p.sentiment["negative"]) for p in data.platforms] == [
        ("weibo", 4, 4), ("news", 3, 1), ("twitter", 3, 0)]
    assert [(s.name, s.total) for s in data.sources] == [("weibo-export", 4), ("news-feed", 3), ("tweets", 3)]
    assert [(a.name, a.posts, a.engagement, a.negative, a.tier) for a in data.authors] == [
        ("kol1", 3, 3000, 0, "KOL"), ("财经日报", 3, 300, 1, "KOC"), ("both", 1, 50, 1, "KOC"),
        ("angry", 2, 20, 2, "KOC"), ("late", 1, 0, 1, "")]
    assert [(a.name, a.followers) for a in data.kols] == [("kol1", 500_000)]
    # terms that mark negative mentions: "新品" is in 1 of 3 negative posts about it (acme: 50 % negative), no topic
    assert data.negative_terms == [("变质", 3), ("退款", 2)]
    assert data.positive_terms == [("新品", 2)]  # 2 of its 3 mentions positive, acme 20 % positive
    assert [m["author"] for m in data.negative_mentions][:2] == ["财经日报", "both"]


def test_incidents_against_the_plan(store: sa.Engine, history: dict[str, int], plan: CrisisPlan) -> None:
    with store.connect() as conn:
        data = gather(conn, PERIOD, brands=BRANDS, scope="acme", plan=plan, now=NOW)
    a1, a2 = data.incidents
    assert (a1.id, a2.id) == (history["a1"], history["a2"])
    assert (a1.ack_seconds, a1.resolve_seconds, a1.ack_target, a1.ack_met(NOW)) == (600, 7200, 1800, True)
    # baseline: the 7 days before opening hold 6 acme mentions, 3 negative; the 24 h after resolution none
    assert a1.control is not None and a1.control["baseline_share"] == 0.5 and a1.control["returned"] is True
    assert (a2.opened_level, a2.level, a2.escalations, a2.acknowledged_by) == ("warning", "crisis", 1, "li-si")
    assert (a2.ack_seconds, a2.ack_target, a2.ack_met(NOW), a2.resolved_at) == (3000, 1800, False, None)
    assert [d.id for d in data.drills] == [history["d1"]]  # listed apart, not counted
    k = data.kpi
    assert (k.incidents, k.open, k.by_level) == (2, 1, {"warning": 1, "crisis": 1})
    assert (k.ack_median, k.resolve_median, k.within_target, k.judged) == (1800, 7200, 1, 2)
    assert (k.control_evaluated, k.control_returned, k.control_pending) == (1, 1, 0)
    assert data.level_names == {"warning": "预警", "crisis": "危机"}


def test_all_brands_report_and_kpis_agree(store: sa.Engine, history: dict[str, int], plan: CrisisPlan) -> None:
    with store.connect() as conn:
        data = gather(conn, PERIOD, brands=BRANDS, scope=None, plan=plan, now=NOW)
        kpis = crisis_kpis(conn, PERIOD.start, PERIOD.end)
    assert data.total == 16 and data.scope == ("acme", "beta", "gamma")
    # the post naming acme and beta counts for both brands but once for its author
    both = next(a for a in data.authors if a.name == "both")
    assert (both.posts, both.engagement) == (1, 50)
    assert [i.id for i in data.incidents] == [history["a1"], history["b1"], history["a2"]]
    assert data.kpi.incidents == kpis["incidents"] == 3
    assert data.kpi.ack_median == kpis["time_to_ack"]["median_seconds"]
    assert data.kpi.ack_p90 == pytest.approx(kpis["time_to_ack"]["p90_seconds"], abs=0.1)
    assert data.kpi.resolve_median == kpis["time_to_resolve"]["median_seconds"]


def test_without_a_plan_deadlines_are_unknown(store: sa.Engine, history: dict[str, int]) -> None:
    with store.connect() as conn:
        data = gather(conn, PERIOD, brands=BRANDS, scope="acme", plan=None, now=NOW)
    a1, a2 = data.incidents
    assert a1.ack_target is None and a1.ack_met(NOW) is None
    assert a2.ack_met(NOW) is False  # escalated before anyone acknowledged: the deadline was missed
    assert data.kpi.judged == 1


def test_empty_period_and_unknown_brand(store: sa.Engine, plan: CrisisPlan) -> None:
    with store.connect() as conn:
        data = gather(conn, PERIOD, brands=BRANDS, scope="beta", plan=plan, now=NOW)
        assert data.total == 0 and data.change is None and data.negative_share is None and data.peak_day is None
        assert data.incidents == [] and data.kpi.ack_median is None
        with pytest.raises(BrandPulseError, match="unknown brand 'nope'"):
            gather(conn, PERIOD, brands=BRANDS, scope="nope", plan=plan, now=NOW)
