"""Shared nlp fixtures: one Segmenter and the shipped model per session (jieba loads in ~1 s)."""

from __future__ import annotations

import pytest

from monitor.models import Brand
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel

BRANDS = (
    Brand(id="acme", name="阿克米咖啡", aliases=("阿克米", "ACME Coffee", "ACME"), exclusions=("阿克米德",)),
    Brand(id="huawei", name="华为", aliases=("華為", "Huawei")),
    Brand(id="mi", name="小米", aliases=("Xiaomi",), exclusions=("小米椒",)),
)


@pytest.fixture(scope="session")
def segmenter() -> Segmenter:
    return Segmenter()


@pytest.fixture(scope="session")
def shipped_model(segmenter: Segmenter) -> SentimentModel:
    return SentimentModel.load(segmenter=segmenter)
