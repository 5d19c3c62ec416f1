from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from pipeline.models.sentiment import (
    LABELS,
    BaselineConfig,
    LexiconSentiment,
    SentimentBaseline,
    SentimentModel,
    SentimentScore,
)

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


# --- online model ---------------------------------------------------------------------------


def test_model_answers_with_the_lexicon_before_it_has_learned_enough() -> None:
    model, lexicon = SentimentModel(min_learned=50), LexiconSentiment()
    texts = ["honestly zorblax", "I love this airline", "terrible delay again"]
    assert [model.score_one(t) for t in texts] == [lexicon.score_one(t) for t in texts]
    learn_toy(model, rounds=5)  # 45 posts: still under min_learned
    assert model.n_learned == 45
    assert model.uses_lexicon_only
    assert [model.score_one(t) for t in texts] == [lexicon.score_one(t) for t in texts]


def test_model_learns_a_word_that_only_appears_in_negative_posts() -> None:
    model = SentimentModel(min_learned=50)
    before = model.score_one("the gate was zorblax")
    assert before.label == "neutral"  # neither word is in the lexicon
    learn_toy(model, rounds=10)
    assert not model.uses_lexicon_only
    after = model.score_one("the gate was zorblax")
    assert after.label == "negative"
    assert after.proba["negative"] > max(after.proba["neutral"], after.proba["positive"]) + 0.15
    assert sum(after.proba.values()) == pytest.approx(1.0)
    assert after.compound == pytest.approx(after.proba["positive"] - after.proba["negative"])
    assert after.compound < before.compound == 0.0
    # It is the word that was learned: the same post without it is not negative.
    assert model.predict_one("the gate was") != "negative"
    # The neutral and positive vocabularies were learned as well.
    assert model.predict_one("my bag is at the gate") == "neutral"
    assert model.predict_one("boarding was lovely thank you") == "positive"


def test_model_keeps_the_lexicon_until_every_label_was_learned() -> None:
    model = SentimentModel(min_learned=10)
    for _ in range(60):
        model.learn_one("zorblax again", "negative")
    assert model.uses_lexicon_only
    assert model.predict_one("I love this airline") == "positive"


def test_learn_one_rejects_labels_outside_the_three() -> None:
    model = SentimentModel()
    for bad in ["angry", "Negative", ""]:
        with pytest.raises(ValueError, match="sentiment label"):
            model.learn_one("some text", bad)
    assert model.n_learned == 0


def test_model_is_deterministic() -> None:
    first, second = SentimentModel(min_learned=20), SentimentModel(min_learned=20)
    learn_toy(first, rounds=4)
    learn_toy(second, rounds=4)
    texts = [text for text, _ in TOY_STREAM] + ["zorblax lovely", "noon thanks"]
    assert [first.score_one(t) for t in texts] == [second.score_one(t) for t in texts]


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
