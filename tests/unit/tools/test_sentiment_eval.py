from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.models.sentiment import LexiconSentiment, SentimentModel
from pipeline.runtime.settings import PACKAGE_DATA
from pipeline.tools.sentiment_eval import (
    evaluate,
    figures,
    format_report,
    label_lines,
    read_held_out,
    read_labelled,
)

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


def test_figures_are_macro_recall_accuracy_and_macro_f1() -> None:
    truth = ["negative", "negative", "neutral", "positive"]
    said = ["negative", "neutral", "neutral", "negative"]
    got = figures(truth, said)
    assert got["accuracy"] == pytest.approx(0.5)
    assert got["macro_recall"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    f1_negative = 2 * 0.5 * 0.5 / (0.5 + 0.5)
    f1_neutral = 2 * 0.5 * 1.0 / 1.5
    assert got["macro_f1"] == pytest.approx((f1_negative + f1_neutral + 0.0) / 3)


def test_the_shipped_model_beats_the_lexicon_and_online_learning_adds_to_it(
    prefix_report: dict,
) -> None:
    airline = prefix_report["airline"]
    assert airline["n"] == 3000
    assert sum(airline["label_share"].values()) == pytest.approx(1.0)
    lexicon, shipped, online = airline["lexicon"], airline["shipped"], airline["online"]
    # Measured on this prefix (macro-recall / accuracy): lexicon 0.584 / 0.544, shipped
    # 0.679 / 0.641, online 0.716 / 0.776. The shipped model never saw an airline tweet.
    assert shipped["macro_recall"] >= lexicon["macro_recall"] + 0.04
    assert shipped["accuracy"] >= lexicon["accuracy"] + 0.04
    assert online["accuracy"] >= shipped["accuracy"] + 0.05
    assert online["macro_f1"] >= shipped["macro_f1"]


def test_format_report_is_a_table_of_the_figures(prefix_report: dict) -> None:
    text = format_report(prefix_report)
    assert "3,000" in text
    assert f"{prefix_report['airline']['online']['accuracy']:.3f}" in text
    assert f"{prefix_report['airline']['lexicon']['macro_recall']:.3f}" in text
    assert "held out" not in text  # no SemEval file given


def test_read_held_out_keeps_only_the_held_out_split(tmp_path: Path) -> None:
    tsv = tmp_path / "semeval.tsv"
    tsv.write_text(
        "split\tlabel\ttext\n"
        "twitter-2013train-A\tpositive\ttrained on\n"
        "twitter-2016test-A\tnegative\theld out one\n"
        "twitter-2016test-A\tneutral\theld out two\n",
        encoding="utf-8",
    )
    assert read_held_out(tsv) == (["held out one", "held out two"], ["negative", "neutral"])


def test_label_lines_gives_one_label_per_line() -> None:
    lines = ["I love this crew, thank you!\n", "worst delay ever, terrible\r\n", "\n", "gate 12"]
    assert list(label_lines(lines, LexiconSentiment())) == [
        "positive",
        "negative",
        "neutral",
        "neutral",
    ]
    model = SentimentModel()
    for _ in range(10):
        model.learn_one("zorblax again", "negative")
        model.learn_one("gate 12 at noon", "neutral")
        model.learn_one("lovely crew", "positive")
    assert list(label_lines(["zorblax\n"], model)) == ["negative"]
