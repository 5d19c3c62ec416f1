"""Topic names: the one place they are spelled.

A deployment may share a Kafka cluster with others: the ``topic_prefix`` setting puts every
Crisiswatch topic under a prefix (tests use it to stay apart on a shared broker).
"""

from __future__ import annotations

from dataclasses import dataclass

#: JSON posts from any producer, unvalidated.
POSTS_RAW = "posts.raw"
#: Validated, normalised posts, one copy per monitored subject they mention, keyed by subject.
POSTS = "posts"
#: Input that could not be accepted, with the reason (schemas.DeadLetter).
POSTS_DLQ = "posts.dlq"
#: Per-subject signals (sentiment vs baseline, stories and origin, spread, leaders), keyed by
#: subject, one record per subject per minute of event time (schemas.SubjectSignals).
SIGNALS = "signals"
#: Labelled posts (ops corrections) the sentiment model learns from (schemas.Feedback).
FEEDBACK = "feedback"
#: Crisis alerts and their updates, keyed by subject (schemas.Alert).
ALERTS = "alerts"
#: Snapshots of the online sentiment model (compacted; pipeline/runtime/model_store.py).
SENTIMENT_MODEL = "sentiment.model"


@dataclass(frozen=True)
class TopicNames:
    posts_raw: str = POSTS_RAW
    posts: str = POSTS
    posts_dlq: str = POSTS_DLQ
    signals: str = SIGNALS
    feedback: str = FEEDBACK
    alerts: str = ALERTS
    sentiment_model: str = SENTIMENT_MODEL

    @classmethod
    def for_prefix(cls, prefix: str) -> TopicNames:
        return cls(
            posts_raw=prefix + POSTS_RAW,
            posts=prefix + POSTS,
            posts_dlq=prefix + POSTS_DLQ,
            signals=prefix + SIGNALS,
            feedback=prefix + FEEDBACK,
            alerts=prefix + ALERTS,
            sentiment_model=prefix + SENTIMENT_MODEL,
        )
