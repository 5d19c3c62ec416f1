from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models.sentiment import LexiconSentiment, SentimentModel
from pipeline.runtime.settings import PACKAGE_DATA
from pipeline.tools.sentiment_eval import evaluate, format_report, label_lines, read_labelled

AIRLINE_TWEETS = PACKAGE_DATA / "airline_tweets_2015.csv"


@pytest.fixture(scope="module")
def prefix_report() -> dict:
    return evaluate(AIRLINE_TWEETS, limit=3000)


def test_read_labelled_is_in_event_time_order_and_keeps_multiline_texts() -> None:
    posts = read_labelled(AIRLINE_TWEETS)
    assert len(posts) == 14_640
    keys = [(p.created, p.tweet_id) for p in posts]
    assert keys == sorted(keys)
    assert {p.label for p in posts} == {"negative", "neutral", "positive"}
    assert any("\n" in p.text for p in posts)
    assert read_labelled(AIRLINE_TWEETS, limit=10) == posts[:10]


def test_evaluate_reports_both_models_overall_and_last_half(prefix_report: dict) -> None:
    report = prefix_report
    assert report["n"] == 3000
    assert report["n_last_half"] == 1500
    assert sum(report["label_share"].values()) == pytest.approx(1.0)
    for name in ("lexicon", "online"):
        row = report[name]
        for figures in (row, row["last_half"]):
            assert 0.0 < figures["accuracy"] <= 1.0
            assert 0.0 < figures["macro_f1"] <= 1.0
        assert row["posts_per_s"] > 0


def test_online_model_clearly_beats_the_lexicon_and_the_majority_class(prefix_report: dict) -> None:
    lexicon, online = prefix_report["lexicon"], prefix_report["online"]
    # Measured on this prefix: lexicon 0.544 / 0.517, online 0.769 / 0.710 (accuracy / macro-F1).
    assert online["accuracy"] >= lexicon["accuracy"] + 0.15
    assert online["macro_f1"] >= lexicon["macro_f1"] + 0.10
    assert online["last_half"]["accuracy"] >= lexicon["last_half"]["accuracy"] + 0.15
    # Negatives are 57% of the prefix: always answering "negative" must not be as good.
    majority = max(prefix_report["label_share"].values())
    assert online["accuracy"] >= majority + 0.10


def test_format_report_is_a_table_of_the_figures(prefix_report: dict) -> None:
    text = format_report(prefix_report)
    assert "3,000 posts" in text
    assert f"{prefix_report['online']['accuracy']:.3f}" in text
    assert f"{prefix_report['lexicon']['last_half']['macro_f1']:.3f}" in text
    assert len(text.splitlines()) == 7


def test_label_lines_gives_one_label_per_line(tmp_path: Path) -> None:
    lines = ["I love this crew, thank you!\n", "worst delay ever, terrible\r\n", "\n", "gate 12"]
    assert list(label_lines(lines, LexiconSentiment())) == [
        "positive",
        "negative",
        "neutral",
        "neutral",
    ]
    model = SentimentModel(min_learned=5)
    for _ in range(3):
        model.learn_one("zorblax again", "negative")
        model.learn_one("gate 12 at noon", "neutral")
        model.learn_one("lovely crew", "positive")
    assert list(label_lines(["zorblax\n"], model)) == ["negative"]
