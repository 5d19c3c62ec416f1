"""Reports of harm, on real posts (CrisisLexT26, tests/data/real) and ordinary ones (airlines)."""

from __future__ import annotations

import csv

from pipeline.models.harm import GENERAL_SHARE, harm_many, reports_harm
from pipeline.models.sentiment_features import analyse
from pipeline.runtime.settings import PACKAGE_DATA


def harm(texts: list[str]) -> list[bool]:
    analysis = analyse(texts)
    alone = [reports_harm(tokens) for tokens in analysis.tokens]
    # The batch path reads as text only the posts its hash sieve lets through: same answers.
    assert harm_many(analysis) == alone
    return alone


def test_reports_of_harm_in_real_crisis_tweets() -> None:
    texts = [
        "THERE HAS BEEN ONE FATALITY SO FAR AT THE METRO NORTH DERAILMENT IN BRONX NYC #BREAKING",
        "RT @BreakingNews: Unknown number of injuries in New York City train derailment near "
        "Metro-North Spuyten Duyvil station",
        "Strong #earthquake felt in Costa Rica",
    ]
    assert harm(texts) == [True, True, True]


def test_negated_and_ordinary_mentions_are_not_harm() -> None:
    texts = [
        "Nobody was hurt, thank god",
        "no injuries reported so far",
        "@united thanks for the upgrade, great crew today",
        "@SouthwestAir my flight is delayed again :(",
    ]
    assert harm(texts) == [False, False, False, False]


def test_ordinary_posts_rarely_report_harm() -> None:
    """The airline tweets (complaints included, pipeline/data): the general share the harm
    term compares a new subject with must be above what ordinary posts show."""
    with (PACKAGE_DATA / "airline_tweets_2015.csv").open(newline="", encoding="utf-8") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    share = sum(harm(texts)) / len(texts)
    assert 0.0 < share < GENERAL_SHARE
