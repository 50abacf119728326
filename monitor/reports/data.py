"""The figures of a weekly or monthly report, gathered from the store with SQL aggregates.

Counts are brand mentions from ``mention_brands`` (one row per mention and brand), which is
where analyst corrections take effect: a relabelled mention counts with its corrected
sentiment, one marked irrelevant for a brand does not count for it. A post naming two brands
counts once for each (so per-brand figures add up to the all-brand report); author figures
count each post once. Incidents come from the alert records (monitor/reports/incidents.py).

    with engine.connect() as conn:
        data = gather(conn, Period.week(date(2026, 11, 22), tz), brands=[("qinghe", "青禾乳业")],
                      scope="qinghe", plan=plan, now=clock.now())
    data.total, data.change, data.negative_share, data.incidents
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from alerts.plan import CrisisPlan
from monitor import defaults
from monitor.errors import BrandPulseError
from monitor.reports.incidents import Incident, IncidentSummary, incidents_in
from monitor.reports.period import Period
from monitor.store import schema
from monitor.store.mentions import epoch_seconds, sample_mentions, term_counts

LABELS = ("positive", "neutral", "negative")
NO_PLATFORM = ""  # mentions whose source did not say which platform
DISTINCTIVE = 1.5  # a top negative (positive) term is in at least this many times the usual negative (positive) share


def _zero() -> dict[str, int]:
    return dict.fromkeys(LABELS, 0)


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def change(now: int, before: int) -> float | None:
    """Relative change (0.25 = +25 %); None when there was nothing before to compare with."""
    return (now - before) / before if before else None


@dataclass(frozen=True)
class BrandRow:
    id: str
    name: str
    in_scope: bool
    sentiment: dict[str, int]
    previous: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.sentiment.values())

    @property
    def previous_total(self) -> int:
        return sum(self.previous.values())


@dataclass(frozen=True)
class ChannelRow:
    """A platform or a source: mentions by sentiment."""

    name: str
    sentiment: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.sentiment.values())


@dataclass(frozen=True)
class Author:
    name: str
    platform: str
    posts: int
    engagement: int
    followers: int | None
    negative: int
    positive: int

    @property
    def tier(self) -> str:
        """KOL (a large following), KOC (a smaller account whose posts get engagement) or ''."""
        if self.followers is not None and self.followers >= defaults.REPORT_KOL_FOLLOWERS:
            return "KOL"
        return "KOC" if self.engagement > 0 else ""


@dataclass
class ReportData:
    period: Period
    previous: Period
    scope: tuple[str, ...]  # brand ids the report is about
    brand_filter: str | None  # the --brand asked for (None: all brands)
    generated_at: datetime
    brands: list[BrandRow]  # every brand, for share of voice; in_scope marks the report's
    daily: list[dict[str, int]]  # per day of the period: label -> mentions (scope)
    previous_daily: list[int]  # per day of the previous period: mentions (scope)
    platforms: list[ChannelRow]
    sources: list[ChannelRow]
    authors: list[Author]  # most engaged
    kols: list[Author]  # widest reach (followers >= REPORT_KOL_FOLLOWERS)
    negative_terms: list[tuple[str, int]]
    positive_terms: list[tuple[str, int]]
    negative_mentions: list[dict[str, Any]]
    incidents: list[Incident]
    drills: list[Incident]
    kpi: IncidentSummary
    level_names: dict[str, str] = field(default_factory=dict)

    @property
    def sentiment(self) -> dict[str, int]:
        out = _zero()
        for b in self.brands:
            if b.in_scope:
                for k, v in b.sentiment.items():
                    out[k] += v
        return out

    @property
    def previous_sentiment(self) -> dict[str, int]:
        out = _zero()
        for b in self.brands:
            if b.in_scope:
                for k, v in b.previous.items():
                    out[k] += v
        return out

    @property
    def total(self) -> int:
        return sum(self.sentiment.values())

    @property
    def previous_total(self) -> int:
        return sum(self.previous_sentiment.values())

    @property
    def change(self) -> float | None:
        return change(self.total, self.previous_total)

    @property
    def negative_share(self) -> float | None:
        return share(self.sentiment["negative"], self.total)

    @property
    def previous_negative_share(self) -> float | None:
        return share(self.previous_sentiment["negative"], self.previous_total)

    @property
    def all_brands_total(self) -> int:
        return sum(b.total for b in self.brands)

    def share_of_voice(self, brand: BrandRow) -> float | None:
        return share(brand.total, self.all_brands_total)

    def brand_name(self, brand_id: str) -> str:
        return next((b.name for b in self.brands if b.id == brand_id), brand_id)

    @property
    def peak_day(self) -> tuple[date, int] | None:
        totals = [sum(d.values()) for d in self.daily]
        if not totals or max(totals) == 0:
            return None
        i = max(range(len(totals)), key=lambda k: totals[k])
        return self.period.days[i], totals[i]


def _range(period: Period) -> tuple[int, int]:
    return epoch_seconds(period.start), epoch_seconds(period.end)


def _granularity(period: Period, previous: Period) -> int:
    """Seconds per SQL bucket: an hour, unless the zone is off whole hours (India, Nepal)."""
    offsets = {p.astimezone(period.tz).utcoffset() for p in (previous.start, period.start, period.end)}
    return 3600 if all(o is not None and o.total_seconds() % 3600 == 0 for o in offsets) else 900


def _volume(conn: sa.Connection, period: Period, previous: Period, brand_ids: list[str]) -> tuple[
    dict[str, list[dict[str, int]]], dict[str, list[dict[str, int]]]
]:
    """brand -> per local day of ``period`` (and of ``previous``): label -> mentions.

    One grouped query over both periods in buckets that never straddle a local midnight; the
    buckets are folded into local days here.
    """
    mb = schema.mention_brands.c
    origin, end = epoch_seconds(previous.start), epoch_seconds(period.end)
    step = _granularity(period, previous)
    bucket = ((mb.published_ts - origin) // step).label("b")
    stmt = (
        sa.select(mb.brand, mb.sentiment_label, bucket, sa.func.count())
        .where(mb.brand.in_(brand_ids), mb.published_ts >= origin, mb.published_ts < end)
        .group_by(mb.brand, mb.sentiment_label, bucket)
    )
    index = {d: i for i, d in enumerate(period.days)}
    prev_index = {d: i for i, d in enumerate(previous.days)}
    cur = {b: [_zero() for _ in period.days] for b in brand_ids}
    prev = {b: [_zero() for _ in previous.days] for b in brand_ids}
    for brand, label, b, n in conn.execute(stmt):
        if label not in LABELS:
            continue
        day = period.local_day(datetime.fromtimestamp(origin + int(b) * step, UTC))
        if day in index:
            cur[brand][index[day]][label] += int(n)
        elif day in prev_index:  # a partial month's previous span leaves days between the two out
            prev[brand][prev_index[day]][label] += int(n)
    return cur, prev


def _channels(conn: sa.Connection, period: Period, scope: list[str], top: int) -> tuple[
    list[ChannelRow], list[ChannelRow]
]:
    mb, m = schema.mention_brands.c, schema.mentions.c
    start, end = _range(period)
    stmt = (
        sa.select(m.platform, m.source_id, mb.sentiment_label, sa.func.count())
        .select_from(schema.mention_brands.join(schema.mentions, m.id == mb.mention_id))
        .where(mb.brand.in_(scope), mb.published_ts >= start, mb.published_ts < end)
        .group_by(m.platform, m.source_id, mb.sentiment_label)
    )
    platforms: dict[str, dict[str, int]] = {}
    sources: dict[str, dict[str, int]] = {}
    for platform, source_id, label, n in conn.execute(stmt):
        if label not in LABELS:
            continue
        platforms.setdefault(platform or NO_PLATFORM, _zero())[label] += int(n)
        sources.setdefault(source_id, _zero())[label] += int(n)

    def rows(d: dict[str, dict[str, int]]) -> list[ChannelRow]:
        out = [ChannelRow(k, v) for k, v in d.items()]
        return sorted(out, key=lambda r: (-r.total, r.name))[:top]

    return rows(platforms), rows(sources)


def _authors(conn: sa.Connection, period: Period, scope: list[str], top: int, *, by_reach: bool) -> list[Author]:
    """Authors of the period's posts about the scope, each post counted once."""
    mb, m = schema.mention_brands.c, schema.mentions.c
    start, end = _range(period)
    per_post = (
        sa.select(
            mb.mention_id,
            sa.func.max(sa.case((mb.sentiment_label == "negative", 1), else_=0)).label("neg"),
            sa.func.max(sa.case((mb.sentiment_label == "positive", 1), else_=0)).label("pos"),
        )
        .where(mb.brand.in_(scope), mb.published_ts >= start, mb.published_ts < end)
        .group_by(mb.mention_id)
        .subquery()
    )
    engagement = sa.func.sum(m.engagement)
    followers = sa.func.max(m.author_followers)
    stmt = (
        sa.select(m.author, m.platform, sa.func.count(), engagement, followers,
                  sa.func.sum(per_post.c.neg), sa.func.sum(per_post.c.pos))
        .select_from(per_post.join(schema.mentions, m.id == per_post.c.mention_id))
        .where(m.author.is_not(None), m.author != "")
        .group_by(m.author, m.platform)
    )
    if by_reach:
        stmt = stmt.having(followers >= defaults.REPORT_KOL_FOLLOWERS).order_by(
            followers.desc(), engagement.desc(), m.author)
    else:
        stmt = stmt.order_by(engagement.desc(), sa.func.count().desc(), m.author)
    return [
        Author(str(a), p or NO_PLATFORM, int(n), int(e or 0), None if f is None else int(f), int(neg or 0),
               int(pos or 0))
        for a, p, n, e, f, neg, pos in conn.execute(stmt.limit(top))
    ]


def _terms(conn: sa.Connection, period: Period, scope: list[str], label: str, top: int, base: float | None) -> list[
    tuple[str, int]
]:
    """The terms that mark ``label`` mentions: found in at least two of them and clearly more often
    in them than usual. A product name talked about in every tone ("纯牛奶") is not a negative topic;
    "变质" is. ``base``: the share of ``label`` among all the scope's mentions."""
    if base is None:
        return []
    labelled: Counter[str] = Counter()
    every: Counter[str] = Counter()
    for brand in scope:  # every term of every brand, so the merged top list is exact
        labelled.update(dict(term_counts(conn, brand, period.start, period.end, sentiment=label, limit=1 << 30)))
        every.update(dict(term_counts(conn, brand, period.start, period.end, limit=1 << 30)))
    bar = min(0.9, base * DISTINCTIVE)
    kept = {t: n for t, n in labelled.items()
            if n >= 2 and n / every[t] >= bar and any(ch.isalnum() for ch in t)}  # not "……" or "!!!"
    return sorted(kept.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def _negative_mentions(conn: sa.Connection, period: Period, scope: list[str], n: int) -> list[dict[str, Any]]:
    seen: dict[int, dict[str, Any]] = {}
    for brand in scope:
        for row in sample_mentions(conn, brand, period.start, period.end, sentiment="negative", limit=n):
            seen.setdefault(int(row["id"]), row)
    ranked = sorted(seen.values(), key=lambda r: (-int(r["engagement"] or 0), -int(r["author_followers"] or 0),
                                                  -r["published_at"].timestamp()))
    return ranked[:n]


def gather(
    conn: sa.Connection,
    period: Period,
    *,
    brands: list[tuple[str, str]],
    scope: str | None,
    plan: CrisisPlan | None,
    now: datetime,
    top: int = defaults.REPORT_TOP_N,
) -> ReportData:
    """Everything a report shows. ``brands``: every (id, name) for share of voice; ``scope``: the
    brand the report is about, or None for all of them. Raises BrandPulseError for an unknown scope."""
    ids = [b for b, _ in brands]
    if not ids:
        raise BrandPulseError("no brands to report on: configure brands (or pass a database that has mentions)")
    if scope is not None and scope not in ids:
        raise BrandPulseError(f"cannot report on unknown brand {scope!r} (known: {', '.join(ids)})")
    in_scope = [scope] if scope is not None else ids
    previous = period.previous()
    cur, prev = _volume(conn, period, previous, ids)
    rows = []
    for bid, name in brands:
        totals, before = _zero(), _zero()
        for day in cur[bid]:
            for k, v in day.items():
                totals[k] += v
        for day in prev[bid]:
            for k, v in day.items():
                before[k] += v
        rows.append(BrandRow(bid, name, bid in in_scope, totals, before))
    daily = [_zero() for _ in period.days]
    previous_daily = [0 for _ in previous.days]
    for bid in in_scope:
        for i, day in enumerate(cur[bid]):
            for k, v in day.items():
                daily[i][k] += v
        for i, day in enumerate(prev[bid]):
            previous_daily[i] += sum(day.values())
    platforms, sources = _channels(conn, period, in_scope, top)
    scope_counts = {k: sum(d[k] for d in daily) for k in LABELS}
    scope_total = sum(scope_counts.values())
    incidents, drills, summary = incidents_in(conn, period, in_scope, plan=plan, now=now)
    return ReportData(
        period=period,
        previous=previous,
        scope=tuple(in_scope),
        brand_filter=scope,
        generated_at=now,
        brands=rows,
        daily=daily,
        previous_daily=previous_daily,
        platforms=platforms,
        sources=sources,
        authors=_authors(conn, period, in_scope, top, by_reach=False),
        kols=_authors(conn, period, in_scope, max(3, top // 2), by_reach=True),
        negative_terms=_terms(conn, period, in_scope, "negative", top, share(scope_counts["negative"], scope_total)),
        positive_terms=_terms(conn, period, in_scope, "positive", top, share(scope_counts["positive"], scope_total)),
        negative_mentions=_negative_mentions(conn, period, in_scope, defaults.REPORT_SAMPLE_MENTIONS),
        incidents=incidents,
        drills=drills,
        kpi=summary,
        level_names={lvl.id: lvl.name for lvl in plan.levels} if plan is not None else {},
    )


def brands_in_store(conn: sa.Connection) -> list[tuple[str, str]]:
    """Every brand with stored mentions, as (id, id): the brand list when no config is given."""
    mb = schema.mention_brands.c
    return [(str(b), str(b)) for (b,) in conn.execute(sa.select(mb.brand).distinct().order_by(mb.brand))]
