"""Sentiment signals: a post's sentiment, and one subject's sentiment shift in event time.

Plain Python, river style. :class:`SentimentModel` scores a post's text with the VADER lexicon
(built for social media: emoticons, emoji, capitals, "!!!", negation) until it has learned from
enough labelled posts (ops corrections); from then on an online river classifier answers, fed
with the post's words and the lexicon's scores, so it starts from the lexicon's judgement and
learns the domain's vocabulary ("delayed", "rebooked", "on hold") while running.

:class:`SentimentBaseline` follows one subject's scored posts: a slow exponentially weighted
baseline (a day of event time) against a fast "current" (half an hour), both decayed by elapsed
event time rather than by post count, and flags a significant negative shift. Its state is a
JSON-able dict, so it can live in a faust table.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import Any

from river import feature_extraction, linear_model, multiclass, optim
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

LABELS = ("negative", "neutral", "positive")
# VADER's own convention for turning its compound score into a label.
LEXICON_POSITIVE_AT = 0.05
LEXICON_NEGATIVE_AT = -0.05

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
# Words (keeping contractions whole: "don't" is not "don"), the placeholders, and "!" / "?",
# which carry tone in short posts.
_TOKEN = re.compile(r"<url>|<mention>|[a-z0-9']+|[!?]")


@dataclass(frozen=True, slots=True)
class SentimentScore:
    """One post's sentiment. ``compound`` is in [-1, 1]: VADER's compound for the lexicon,
    P(positive) - P(negative) for the learned model. ``proba`` has the three labels; the
    lexicon is a rule, not a distribution, so it puts 1.0 on its label."""

    compound: float
    label: str
    proba: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"compound": self.compound, "label": self.label, "proba": dict(self.proba)}


def _check_label(label: str) -> None:
    if label not in LABELS:
        raise ValueError(f"sentiment label must be one of {', '.join(LABELS)}, not {label!r}")


def _lexicon_label(compound: float) -> str:
    if compound >= LEXICON_POSITIVE_AT:
        return "positive"
    if compound <= LEXICON_NEGATIVE_AT:
        return "negative"
    return "neutral"


class LexiconSentiment:
    """VADER alone: the prior, and the baseline the learned model is measured against."""

    def __init__(self) -> None:
        # Reads the lexicon files shipped inside the vaderSentiment wheel; no network.
        self._analyzer = SentimentIntensityAnalyzer()

    def polarity(self, text: str) -> dict[str, float]:
        """VADER's scores: the neg/neu/pos shares of the text and the compound in [-1, 1]."""
        # Handles name who is addressed, not how the author feels, yet VADER reads "@united" as
        # the positive word "united". Dropping them lifts the lexicon's accuracy on the airline
        # tweets from 0.490 to 0.550 (macro-F1 0.457 to 0.514).
        scores: dict[str, float] = self._analyzer.polarity_scores(_HANDLE.sub("", text))
        return scores

    def score_one(self, text: str) -> SentimentScore:
        return self._score(self.polarity(text))

    def predict_one(self, text: str) -> str:
        return self.score_one(text).label

    @staticmethod
    def _score(polarity: dict[str, float]) -> SentimentScore:
        compound = float(polarity["compound"])
        label = _lexicon_label(compound)
        return SentimentScore(compound, label, {name: float(name == label) for name in LABELS})


def _normalise(text: str) -> str:
    # Handles and links say who and where, not how the author feels; one token each keeps them
    # from spreading the model's weight over thousands of one-off features.
    text = _URL.sub(" <url> ", html.unescape(text).lower())
    return _HANDLE.sub(" <mention> ", text)


def _tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


class SentimentModel:
    """The lexicon until ``min_learned`` labelled posts (of every label) have been learned, then
    an online one-vs-rest logistic regression over word uni/bigrams plus the lexicon's scores.

    AdaGrad gives rare words (most of a tweet's words) larger steps than common ones. Measured
    prequentially on the 2015 airline tweets (sentiment_eval.py), accuracy / macro-F1: this
    0.815 / 0.754; with plain SGD 0.800 / 0.733; softmax regression 0.799 / 0.738; without the
    lexicon features 0.803 / 0.738; the lexicon alone 0.550 / 0.514 (multinomial naive Bayes
    was further behind in a prototype, 0.72 / 0.68). Its state is river objects, not a JSON
    dict: keep one per worker process, or pickle it.
    """

    def __init__(self, min_learned: int = 50, learning_rate: float = 0.1) -> None:
        self.lexicon = LexiconSentiment()
        self.min_learned = min_learned
        self._words = feature_extraction.BagOfWords(
            lowercase=False,
            strip_accents=False,
            preprocessor=_normalise,
            tokenizer=_tokenize,
            ngram_range=(1, 2),
        )
        self._classifier = multiclass.OneVsRestClassifier(
            linear_model.LogisticRegression(optimizer=optim.AdaGrad(learning_rate))
        )
        self._learned = dict.fromkeys(LABELS, 0)

    @property
    def n_learned(self) -> int:
        return sum(self._learned.values())

    @property
    def uses_lexicon_only(self) -> bool:
        # A classifier that has never seen a label cannot predict it, so every label must have
        # been learned before it takes over from the lexicon.
        return self.n_learned < self.min_learned or not all(self._learned.values())

    def score_one(self, text: str) -> SentimentScore:
        polarity = self.lexicon.polarity(text)
        if self.uses_lexicon_only:
            return LexiconSentiment._score(polarity)
        predicted = self._classifier.predict_proba_one(self._features(text, polarity))
        proba = {name: float(predicted.get(name, 0.0)) for name in LABELS}
        label = max(LABELS, key=proba.__getitem__)  # ties go to the first in LABELS
        compound = min(1.0, max(-1.0, proba["positive"] - proba["negative"]))
        return SentimentScore(compound, label, proba)

    def predict_one(self, text: str) -> str:
        return self.score_one(text).label

    def learn_one(self, text: str, label: str) -> None:
        _check_label(label)
        self._classifier.learn_one(self._features(text, self.lexicon.polarity(text)), label)
        self._learned[label] += 1

    def _features(self, text: str, polarity: dict[str, float]) -> dict[Any, float]:
        # Presence, not counts: a word repeated in a tweet is emphasis VADER already scores.
        features: dict[Any, float] = dict.fromkeys(self._words.transform_one(text), 1.0)
        features["lexicon_negative"] = polarity["neg"]
        features["lexicon_positive"] = polarity["pos"]
        features["lexicon_compound"] = polarity["compound"]
        return features


@dataclass(frozen=True, slots=True)
class BaselineConfig:
    #: Half-life of the slow baseline, in seconds of event time: what is normal for the subject.
    baseline_half_life_s: float = 24 * 3600.0
    #: Half-life of the fast "current" average, in seconds of event time.
    current_half_life_s: float = 30 * 60.0
    #: A shift needs z at or below minus this (z: the current mean's distance from the baseline
    #: in standard errors of the current mean). At 3.5 a simulated stationary stream (5 to 100
    #: posts an hour, 60 days) never shifted; 3.0 (min_delta 0.2) shifted 4 times at 20 an hour.
    z_threshold: float = 3.5
    #: ... and the current mean at least this far below the baseline (compound units), so that a
    #: statistically clear but tiny dip on a busy subject is not reported.
    min_delta: float = 0.25
    #: ... and at least this decayed post count in the fast window (about the posts of the last
    #: current_half_life_s / ln 2 seconds).
    min_current_weight: float = 10.0
    #: Warm-up: this much event time since the subject's first post ...
    warmup_s: float = 12 * 3600.0
    #: ... and at least this decayed post count in the baseline.
    min_baseline_weight: float = 30.0
    #: Floor of the baseline standard deviation, so a subject whose posts all scored the same
    #: does not turn any difference into an infinite z.
    min_std: float = 0.1


def _new_average() -> dict[str, float]:
    # w: decayed weight (post count); w2: decayed sum of squared weights (for the effective
    # sample size); mean/var: of the compound; negative: share of posts labelled negative.
    return {"w": 0.0, "w2": 0.0, "mean": 0.0, "var": 0.0, "negative": 0.0}


def _update(average: dict[str, float], decay: float, weight: float, x: float, neg: float) -> None:
    """Decay the average by elapsed event time, then add one post of the given weight."""
    if weight <= 0.0:  # a post so late that its weight underflowed: nothing to add
        return
    w = average["w"] * decay + weight
    average["w2"] = average["w2"] * decay * decay + weight * weight
    alpha = weight / w
    diff = x - average["mean"]
    average["mean"] += alpha * diff
    # Exponentially weighted variance (West's update), same weights as the mean.
    average["var"] = (1.0 - alpha) * (average["var"] + alpha * diff * diff)
    average["negative"] += alpha * (neg - average["negative"])
    average["w"] = w


class SentimentBaseline:
    """One subject's sentiment baseline and negative-shift detector; ``state`` is a JSON-able
    dict owned by the caller. Timestamps are event-time epoch seconds, never the wall clock."""

    def __init__(self, config: BaselineConfig, state: dict[str, Any] | None = None) -> None:
        self.config = config
        self.state: dict[str, Any] = (
            state
            if state
            else {
                "n": 0,
                "first_ts": None,
                "last_ts": None,
                "baseline": _new_average(),
                "current": _new_average(),
            }
        )

    def learn_one(self, ts: float, score: SentimentScore | dict[str, Any]) -> None:
        if isinstance(score, SentimentScore):
            compound, label = score.compound, score.label
        else:
            compound, label = float(score["compound"]), str(score["label"])
        state = self.state
        last = state["last_ts"]
        # In order, the averages decay by the time elapsed since the last post and the post
        # counts fully. A late post does not rewind them (no negative decay): it counts as much
        # as it would have, had it arrived on time and decayed since.
        elapsed = 0.0 if last is None else ts - last
        age = max(0.0, -elapsed)
        elapsed = max(0.0, elapsed)
        neg = 1.0 if label == "negative" else 0.0
        for name, half_life in (
            ("baseline", self.config.baseline_half_life_s),
            ("current", self.config.current_half_life_s),
        ):
            decay = 0.5 ** (elapsed / half_life)
            weight = 0.5 ** (age / half_life)
            _update(state[name], decay, weight, compound, neg)
        state["n"] += 1
        if last is None or ts > last:
            state["last_ts"] = ts
        if state["first_ts"] is None:
            # The first post to arrive, not the oldest: a stray old post must not end warm-up.
            state["first_ts"] = ts

    def score_one(self) -> dict[str, Any]:
        cfg = self.config
        state = self.state
        baseline, current = state["baseline"], state["current"]
        delta = current["mean"] - baseline["mean"]
        std = max(math.sqrt(max(baseline["var"], 0.0)), cfg.min_std)
        # Kish's effective sample size of the fast window: the current mean of posts with
        # spread `std` has standard error std / sqrt(n_eff).
        n_eff = current["w"] ** 2 / current["w2"] if current["w2"] > 0.0 else 0.0
        z = delta / (std / math.sqrt(n_eff)) if n_eff > 0.0 else 0.0
        warmed_up = (
            state["n"] > 0
            and state["last_ts"] - state["first_ts"] >= cfg.warmup_s
            and baseline["w"] >= cfg.min_baseline_weight
        )
        shift = (
            warmed_up
            and current["w"] >= cfg.min_current_weight
            and z <= -cfg.z_threshold
            and delta <= -cfg.min_delta
        )
        return {
            "baseline": baseline["mean"],
            "current": current["mean"],
            "delta": delta,
            "z": z,
            "std": std,
            "current_weight": current["w"],
            "negative_share_baseline": baseline["negative"],
            "negative_share_current": current["negative"],
            "shift": shift,
            "warm": warmed_up,
            "n": state["n"],
        }
