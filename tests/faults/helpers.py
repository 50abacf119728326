"""What the fault-injection tests share: distinct mention texts, feeds, counting the store.

Every text made here mentions the brand and reads differently enough that the near-duplicate
filter (SimHash) keeps it, so "every item stored exactly once" can be checked by counting.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import opencc
import sqlalchemy as sa

from monitor.models import Brand
from monitor.store import schema

BRAND = Brand("acme", "阿克米咖啡", ("阿克米", "ACME"))
WORDS = ("门店 拿铁 美式 外卖 包装 杯子 店员 服务 价格 会员 优惠 新品 口味 冰块 排队 座位 环境 音乐 装修 停车 "
         "早餐 蛋糕 吐司 燕麦 奶油 焦糖 抹茶 果汁 柠檬 芒果 草莓 巧克力 牛奶 豆浆 纸杯 吸管 发票 积分 小程序 "
         "配送 骑手 地铁 商场 写字楼 周末 早上 晚上 朋友 同事 孩子 老板 学生 游客 老顾客 第一次 上海 北京 成都 "
         "杭州 广州 深圳 武汉 南京 西安 苏州 天津 重庆").split()


def text(n: int, brand: str = BRAND.name) -> str:
    """A mention of ``brand`` numbered ``n``: twelve words drawn by ``n``, so no two are alike."""
    rnd = random.Random(n * 7919 + 17)
    return f"{brand}{'，'.join(rnd.sample(WORDS, 12))}。编号{n}"


def rows(ids: Iterable[int], *, at: datetime | None = None) -> list[dict[str, str]]:
    t = at or datetime.now(UTC) - timedelta(hours=1)
    return [{"id": f"r{i}", "text": text(i), "time": (t + timedelta(seconds=i)).isoformat()} for i in ids]


def jsonl(records: Iterable[dict[str, Any] | str]) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


def feed(ids: Iterable[int], *, encoding: str = "utf-8", declare: bool = True, brand: str = BRAND.name) -> bytes:
    """An RSS 2.0 feed with one item per id (guid ``n<id>``), in ``encoding`` (Big5: in
    Traditional characters, as a Taiwanese or Hong Kong feed would be)."""
    decl = f'<?xml version="1.0" encoding="{encoding}"?>' if declare else '<?xml version="1.0"?>'
    items = "".join(f"<item><guid>n{i}</guid><title>{brand}快讯{i}</title><description>{text(i, brand)}"
                    f"</description></item>" for i in ids)
    doc = f'{decl}<rss version="2.0"><channel><title>新闻</title>{items}</channel></rss>'
    if encoding.lower() == "big5":
        doc = opencc.OpenCC("s2t").convert(doc)
    return doc.encode(encoding)


def external_ids(engine: sa.Engine, source_id: str) -> Counter[str]:
    """How many stored mentions each external id of ``source_id`` has (1 each, or it's a bug)."""
    m = schema.mentions
    with engine.connect() as conn:
        got = conn.execute(sa.select(m.c.external_id).where(m.c.source_id == source_id)).scalars().all()
    return Counter(got)


def lines_matching(log: str, pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [line for line in log.splitlines() if rx.search(line)]


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident set size (VmHWM), KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


NEGATIVE = ("太差了 变质 拉肚子 投诉 退款 恶心 垃圾 骗子 过期 异物 差评 失望 气死 避雷 维权 发霉 难喝 态度恶劣 欺骗 "
            "肚子疼 不新鲜 假货 黑心").split()


def complaint(n: int, brand: str = BRAND.name) -> str:
    """A plainly negative mention numbered ``n``, unlike every other (the model scores ~99% negative)."""
    rnd = random.Random(n * 31 + 5)
    return (f"{brand}{rnd.choice(NEGATIVE)}！{'，'.join(rnd.sample(NEGATIVE, 5))}，{'，'.join(rnd.sample(WORDS, 5))}"
            f"，再也不买了！编号{n}")
