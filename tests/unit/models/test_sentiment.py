from __future__ import annotations

import random
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

from pipeline.models.sentiment import (
    LABELS,
    BaselineConfig,
    LexiconSentiment,
    SentimentBaseline,
    SentimentModel,
    SentimentScore,
    shipped_prior,
)
from pipeline.models.sentiment_features import MAX_CHARS, featurize
from pipeline.models.sentiment_linear import LinearSentiment
from pipeline.models.vader_bounded import MAX_WORDS, BoundedVader

T0 = 1_424_390_400.0  # 2015-02-20 00:00 UTC
HOUR = 3600.0
CONFIG = BaselineConfig(
    baseline_half_life_s=24 * HOUR,
    current_half_life_s=30 * 60,
    z_threshold=3.5,
    min_delta=0.25,
    min_current_weight=10.0,
    warmup_s=12 * HOUR,
    min_baseline_weight=30.0,
)

# A toy labelled stream: the made-up word "zorblax" only ever appears in negative posts.
TOY_STREAM = [
    ("the flight was zorblax again", "negative"),
    ("zorblax boarding today", "negative"),
    ("my bag is zorblax", "negative"),
    ("the flight leaves at noon", "neutral"),
    ("what time is boarding today", "neutral"),
    ("my bag is at the gate", "neutral"),
    ("the flight was lovely thanks", "positive"),
    ("boarding today was great", "positive"),
    ("my bag arrived thank you", "positive"),
]


def learn_toy(model: SentimentModel, rounds: int) -> None:
    for _ in range(rounds):
        for text, label in TOY_STREAM:
            model.learn_one(text, label)


# --- lexicon --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Thank you, the crew was wonderful and I love the new seats! :)", "positive"),
        ("Worst flight ever. Lost my bag and the service was terrible", "negative"),
        ("my flight leaves at 5pm from gate 12", "neutral"),
        # The handle must not count as the positive word "united".
        ("@united my flight leaves at 5pm from gate 12", "neutral"),
    ],
)
def test_lexicon_labels_clear_examples(text: str, label: str) -> None:
    score = LexiconSentiment().score_one(text)
    assert score.label == label
    assert -1.0 <= score.compound <= 1.0
    assert score.proba == {name: float(name == label) for name in LABELS}


def test_lexicon_follows_vaders_compound_thresholds() -> None:
    lexicon = LexiconSentiment()
    for text in ["good", "bad", "table", "not good", "GREAT!!!", "meh :("]:
        compound = lexicon.polarity(text)["compound"]
        expected = (
            "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        )
        assert lexicon.predict_one(text) == expected


# --- shipped model and online learning ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("@united thank you so much, the crew was amazing and I love the new seats!", "positive"),
        ("@AmericanAir worst airline ever. 3 hours on hold and still no bag", "negative"),
        ("@JetBlue what time does the 5pm flight to Boston board?", "neutral"),
        ("@SouthwestAir not happy at all, this delay is ridiculous", "negative"),
    ],
)
def test_shipped_model_knows_tweets_before_any_feedback(text: str, label: str) -> None:
    score = SentimentModel().score_one(text)
    assert score.label == label
    assert sum(score.proba.values()) == pytest.approx(1.0)
    assert score.compound == pytest.approx(score.proba["positive"] - score.proba["negative"])


def test_model_learns_a_word_that_only_appears_in_negative_posts() -> None:
    model = SentimentModel()
    before = model.score_one("the gate was zorblax")
    assert before.label != "negative"  # an unknown word: the prior has no opinion on it
    learn_toy(model, rounds=10)
    assert model.n_learned == 90
    after = model.score_one("the gate was zorblax")
    assert after.label == "negative"
    assert after.compound < before.compound
    # It is the word that was learned: the same post without it is not negative.
    assert model.predict_one("the gate was") != "negative"
    assert model.predict_one("boarding was lovely thank you") == "positive"


def test_learn_one_rejects_labels_outside_the_three() -> None:
    model = SentimentModel()
    for bad in ["angry", "Negative", ""]:
        with pytest.raises(ValueError, match="sentiment label"):
            model.learn_one("some text", bad)
    assert model.n_learned == 0


def test_model_is_deterministic() -> None:
    first, second = SentimentModel(), SentimentModel()
    learn_toy(first, rounds=4)
    learn_toy(second, rounds=4)
    texts = [text for text, _ in TOY_STREAM] + ["zorblax lovely", "noon thanks"]
    assert first.score_many(texts) == second.score_many(texts)
    assert first.version == second.version == f"{first.version.split('+')[0]}+36"


def test_a_post_scores_the_same_alone_and_in_any_batch() -> None:
    model = SentimentModel()
    texts = [text for text, _ in TOY_STREAM] + ["", "🙂", "NOT good!!! http://x.co/a @b"]
    batch = model.score_many(texts)
    assert batch == [model.score_one(t) for t in texts]
    assert model.score_many(texts[::-1]) == batch[::-1]
    assert model.score_many([]) == []


PINNED = [
    # (text, compound, label, intents): the shipped model's scores, to the float32 bit, so a
    # faster scorer must give the same figures (update with the weights when retraining).
    (
        "@united I will never fly with you again!!! 4 hrs on the tarmac",
        0.247139111161232,
        "positive",
        ("boycott",),
    ),
    ("Thanks @JetBlue, the crew was lovely :) #happy", 0.9385220408439636, "positive", ()),
    ("flight AA100 lands at 5pm", 0.02353769540786743, "neutral", ()),
    ("not bad at all, soooo good", 0.5820773839950562, "positive", ()),
    ("I want a full refund &amp; my money back 😡", 0.19155725836753845, "positive", ("refund",)),
]


def test_shipped_model_scores_are_pinned() -> None:
    model = SentimentModel()
    assert model.version == "semeval-svm-s13+0"
    scores = model.score_many([text for text, *_ in PINNED])
    for (_, compound, label, kinds), score in zip(PINNED, scores, strict=True):
        assert (score.compound, score.label, score.intents) == (compound, label, kinds)


@pytest.mark.parametrize(
    "text",
    ["a\x00b", "\x00", "lone \ud800 surrogate", "\u200b\u202e rtl", "&amp;&#0;&lt;3", "x" * 3000],
)
def test_hostile_texts_score_like_any_other(text: str) -> None:
    model = SentimentModel()
    alone = model.score_one(text)
    assert model.score_many(["ok", text, "fine"])[1] == alone
    assert sum(alone.proba.values()) == pytest.approx(1.0)
    model.learn_one(text, "neutral")  # the feedback path takes it too


def test_a_snapshot_restores_the_learned_model_exactly() -> None:
    learned = SentimentModel()
    learn_toy(learned, rounds=3)
    snapshot = learned.snapshot(meta='{"0": 27}')
    restored = SentimentModel()
    assert restored.restore(snapshot) == '{"0": 27}'
    texts = [text for text, _ in TOY_STREAM] + ["zorblax!"]
    assert restored.score_many(texts) == learned.score_many(texts)
    assert restored.version == learned.version
    # ... and learns on from there as the original does.
    learn_toy(learned, rounds=1)
    learn_toy(restored, rounds=1)
    assert restored.score_many(texts) == learned.score_many(texts)
    # Restoring is not learning: a fresh model's snapshot brings back the prior.
    restored.restore(SentimentModel().snapshot())
    assert restored.score_many(texts) == SentimentModel().score_many(texts)


def test_a_snapshot_of_another_prior_is_refused() -> None:
    prior = shipped_prior()
    other = LinearSentiment(prior.weights, prior.bias, version="another")
    with pytest.raises(ValueError, match="prior"):
        SentimentModel().restore(SentimentModel(other).snapshot())


HOSTILE = "@united " + "\U0001f600" * 9990  # 40 KB: froze a worker ~137 s (issue 16, defect 3)


def test_cost_per_post_is_bounded_whatever_its_length(monkeypatch: pytest.MonkeyPatch) -> None:
    """VADER's scoring is quadratic in the words it is given, and it expands each emoji into
    its description's words: it must never be given more than MAX_WORDS of them. Counted, not
    timed: the words VADER is handed and the feature entries a post makes."""
    seen: list[int] = []
    original = SentimentIntensityAnalyzer.polarity_scores

    def counting(self: Any, text: str) -> dict[str, float]:
        seen.append(len(text.split()))
        # Fail at once rather than after minutes of quadratic work (emoji expand to ~3 words).
        assert sum(c in self.emojis for c in text[:50_000]) * 3 + seen[-1] <= MAX_WORDS * 3
        return original(self, text)

    monkeypatch.setattr(SentimentIntensityAnalyzer, "polarity_scores", counting)
    assert LexiconSentiment().score_one(HOSTILE).label == "positive"
    model = SentimentModel()
    model.score_one(HOSTILE)
    model.learn_one(HOSTILE, "negative")  # the feedback topic's path
    assert seen and max(seen) <= MAX_WORDS
    # The model scores the first MAX_CHARS characters: the rest adds no work.
    assert featurize([HOSTILE]).matrix.nnz == featurize([HOSTILE[:MAX_CHARS]]).matrix.nnz
    long_text = "delay " * 5_000
    assert featurize([long_text]).matrix.nnz == featurize([long_text[:MAX_CHARS]]).matrix.nnz


def test_bounded_vader_scores_tweets_as_vader_does() -> None:
    vader, bounded = SentimentIntensityAnalyzer(), BoundedVader()
    for text in [
        "The crew was wonderful :) but the food... not so much \U0001f600\U0001f621",
        "WORST. FLIGHT. EVER!!!",
        "kind of ok I guess",
        "",
    ]:
        assert bounded.polarity_scores(text) == vader.polarity_scores(text)


# --- baseline and shift ---------------------------------------------------------------------


def calm(n: int) -> dict[str, Any]:
    """Alternately neutral and mildly positive."""
    return (
        {"compound": 0.0, "label": "neutral"}
        if n % 2 == 0
        else {"compound": 0.6, "label": "positive"}
    )


def negative() -> dict[str, Any]:
    return {"compound": -0.8, "label": "negative"}


def run(stream: list[tuple[float, dict[str, Any]]], persist: bool = False) -> list[dict[str, Any]]:
    """Feed (ts, score) pairs; with persist, the state goes through JSON between posts."""
    state: dict[str, Any] | None = None
    results = []
    for ts, score in stream:
        baseline = SentimentBaseline(CONFIG, state)
        baseline.learn_one(ts, score)
        results.append(baseline.score_one())
        state = orjson.loads(orjson.dumps(baseline.state)) if persist else baseline.state
    return results


def two_calm_days_then_burst(burst: int = 20) -> list[tuple[float, dict[str, Any]]]:
    calm_days = [(T0 + n * 180.0, calm(n)) for n in range(2 * 24 * 20)]  # 20 an hour
    start = T0 + 48 * HOUR
    return calm_days + [(start + k * 60.0, negative()) for k in range(burst)]


def test_negative_burst_after_two_calm_days_shifts_at_the_right_post() -> None:
    stream = two_calm_days_then_burst()
    results = run(stream)
    first_shift = next(i for i, r in enumerate(results) if r["shift"])
    calm_posts = 2 * 24 * 20
    # Not before the burst, and not on its first posts: the fast window holds ~15 calm posts, so
    # it takes 5 negatives to pull its mean the min_delta (0.25) below the baseline; z passed
    # -3.5 one post earlier.
    assert first_shift == calm_posts + 4
    assert results[first_shift - 1]["z"] <= -CONFIG.z_threshold
    assert results[first_shift - 1]["delta"] > -CONFIG.min_delta
    assert all(r["shift"] for r in results[first_shift:])
    shifted = results[first_shift]
    assert shifted["delta"] == pytest.approx(shifted["current"] - shifted["baseline"])
    assert shifted["negative_share_current"] > shifted["negative_share_baseline"] + 0.2
    assert shifted["baseline"] > 0.2  # the day-long baseline barely moved
    assert shifted["n"] == first_shift + 1


def test_quiet_noisy_stream_never_shifts() -> None:
    rng = random.Random(7)
    stream = []
    ts = T0
    for _ in range(3 * 24 * 30):  # about 30 posts an hour for three days
        ts += rng.expovariate(30 / HOUR)
        label = rng.choice(["negative", "negative", "neutral", "positive"])
        compound = {"negative": -rng.uniform(0.3, 1.0), "neutral": 0.0}.get(
            label, rng.uniform(0.3, 1.0)
        )
        stream.append((ts, {"compound": compound, "label": label}))
    results = run(stream)
    assert not any(r["shift"] for r in results)
    assert min(r["z"] for r in results) > -CONFIG.z_threshold


def test_no_shift_during_warm_up() -> None:
    stream = [(T0 + n * 180.0, calm(n)) for n in range(60)]  # three hours
    stream += [(T0 + 3 * HOUR + k * 60.0, negative()) for k in range(30)]
    results = run(stream)
    assert results[-1]["z"] <= -CONFIG.z_threshold
    assert not any(r["shift"] for r in results)


def test_weights_decay_with_event_time_not_post_count() -> None:
    stream = two_calm_days_then_burst(burst=0)
    # Six quiet hours: the fast window empties, so one negative post is too little to shift on.
    stream.append((stream[-1][0] + 6 * HOUR, negative()))
    last = run(stream)[-1]
    assert last["current_weight"] < 1.1
    assert last["current"] < -0.7
    assert not last["shift"]


def test_state_survives_a_json_round_trip_between_posts() -> None:
    stream = two_calm_days_then_burst()
    assert run(stream, persist=True) == run(stream)


def test_accepts_a_score_object_or_its_dict() -> None:
    scores = [SentimentScore(-0.5, "negative", {"negative": 0.7, "neutral": 0.2, "positive": 0.1})]
    scores.append(
        SentimentScore(0.4, "positive", {"negative": 0.1, "neutral": 0.2, "positive": 0.7})
    )
    from_objects, from_dicts = SentimentBaseline(CONFIG), SentimentBaseline(CONFIG)
    for n, score in enumerate(scores):
        from_objects.learn_one(T0 + n, score)
        from_dicts.learn_one(T0 + n, orjson.loads(orjson.dumps(score.as_dict())))
    assert from_objects.state == from_dicts.state


def test_out_of_order_posts_count_without_rewinding_time() -> None:
    stream = two_calm_days_then_burst(burst=0)
    last_ts = stream[-1][0]
    on_time = run([*stream, (last_ts, negative())])[-1]
    late = run([*stream, (last_ts - HOUR, negative())])[-1]
    ancient = run([*stream, (T0 - 365 * 24 * HOUR, negative())])[-1]
    assert late["n"] == on_time["n"] == ancient["n"] == len(stream) + 1
    # An hour late is two fast half-lives: the post weighs a quarter in the current mean.
    assert on_time["current"] < late["current"] < run(stream)[-1]["current"]
    assert ancient["current"] == pytest.approx(run(stream)[-1]["current"])
    baseline = SentimentBaseline(CONFIG)
    for ts in [T0 + 100, T0 + 50, T0 + 100, T0, T0 + 200]:
        baseline.learn_one(ts, negative())
    assert baseline.state["last_ts"] == T0 + 200
    assert baseline.state["first_ts"] == T0 + 100  # the first to arrive, for the warm-up


def test_intent_share_and_kinds_follow_the_posts_that_state_one() -> None:
    baseline = SentimentBaseline(CONFIG)
    for i in range(200):  # a calm day: one post in 50 states an intent
        score = {**calm(i), "intents": ["share"] if i % 50 == 0 else []}
        baseline.learn_one(T0 + i * 400.0, score)
    before = baseline.score_one()
    assert 0.0 < before["intent_share_baseline"] < 0.05
    t = T0 + 200 * 400.0
    for i in range(20):  # then a burst of boycotts and refund demands
        kinds = ["boycott", "refund"] if i % 2 else ["boycott"]
        baseline.learn_one(t + i * 30.0, {**negative(), "intents": kinds})
    after = baseline.score_one()
    assert after["intent_share_current"] > 0.5
    assert after["intent_shift"] == pytest.approx(
        after["intent_share_current"] - after["intent_share_baseline"]
    )
    assert after["intent_shift"] > 0.4
    assert 15.0 < after["intent_posts"] <= 20.0
    assert set(after["intent_kinds"]) == {"boycott", "refund"}
    assert after["intent_kinds"]["boycott"] > after["intent_kinds"]["refund"] > 8.0
    # A state written before intents were tracked still works (its intent share starts at 0).
    old = orjson.loads(orjson.dumps(baseline.state))
    for name in ("baseline", "current"):
        del old[name]["intent"]
    del old["intent_kinds"]
    revived = SentimentBaseline(CONFIG, old)
    revived.learn_one(t + 700.0, SentimentScore(-0.5, "negative", {}, ("legal",)))
    assert revived.score_one()["intent_kinds"] == {"legal": pytest.approx(1.0)}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=8))
def test_any_batch_of_any_text_scores_each_post_as_alone(texts: list[str]) -> None:
    model = _FUZZ_MODEL
    batch = model.score_many(texts)
    assert batch == [model.score_one(t) for t in texts]
    features = featurize(texts)
    assert features.n_rows == len(texts)
    assert all(np.isfinite(features.matrix.data))


_FUZZ_MODEL = SentimentModel()
