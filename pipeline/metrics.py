"""Prometheus metrics of a worker (prometheus-client), served on settings.metrics_host:port.

Label values are bounded: platforms outside KNOWN_PLATFORMS count as "other", reasons come from
schemas.REASONS, subjects from the watch list.
"""

from __future__ import annotations

from prometheus_client import Counter, start_http_server

from schemas import REASONS

KNOWN_PLATFORMS = (
    "twitter",
    "x",
    "bluesky",
    "mastodon",
    "threads",
    "facebook",
    "instagram",
    "tiktok",
    "youtube",
    "reddit",
    "linkedin",
    "news",
    "blog",
    "forum",
    "other",
)
OUTCOMES = ("routed", "unmatched", "duplicate")
MODELS = ("sentiment", "sentiment_baseline", "stories", "spread", "leaders")

POSTS_RECEIVED = Counter("crisiswatch_posts_received_total", "Raw messages read from posts.raw")
POSTS_PROCESSED = Counter(
    "crisiswatch_posts_processed_total",
    "Valid posts accepted by ingest, by platform and routing outcome",
    ["platform", "outcome"],
)
POSTS_DEAD_LETTERED = Counter(
    "crisiswatch_posts_dead_lettered_total",
    "Raw messages sent to posts.dlq, by reason",
    ["reason"],
)
POSTS_ROUTED = Counter(
    "crisiswatch_subject_posts_total", "Post copies routed to a monitored subject", ["subject"]
)
DETECTOR_POSTS = Counter(
    "crisiswatch_detector_posts_total", "Subject posts consumed by the detector"
)
LATE_POSTS = Counter(
    "crisiswatch_late_posts_total",
    "Posts older than their subject's closed windows (event time), counted but not windowed",
)
ALERTS_EMITTED = Counter(
    "crisiswatch_alerts_emitted_total", "Alert events sent to the alerts topic, by state", ["state"]
)
SIGNALS_POSTS = Counter(
    "crisiswatch_signals_posts_total", "Subject posts consumed by the signals stage"
)
SIGNALS_EMITTED = Counter(
    "crisiswatch_signals_emitted_total", "Subject signal reports sent to the signals topic"
)
FEEDBACK = Counter(
    "crisiswatch_feedback_total",
    "Labelled posts read from the feedback topic, by outcome (learned, rejected)",
    ["outcome"],
)
MODEL_UPDATES = Counter(
    "crisiswatch_model_updates_total", "Online model updates, by model", ["model"]
)


def platform_label(platform: str) -> str:
    return platform if platform in KNOWN_PLATFORMS else "other"


def initialise_series(subjects: list[str]) -> None:
    """Create every labelled series at zero so that rates and absences are visible from start."""
    for platform in KNOWN_PLATFORMS:
        for outcome in OUTCOMES:
            POSTS_PROCESSED.labels(platform=platform, outcome=outcome)
    for reason in REASONS:
        POSTS_DEAD_LETTERED.labels(reason=reason)
    for subject in subjects:
        POSTS_ROUTED.labels(subject=subject)
    for state in ("opened", "escalated", "resolved"):
        ALERTS_EMITTED.labels(state=state)
    for outcome in ("learned", "rejected"):
        FEEDBACK.labels(outcome=outcome)
    for model in MODELS:
        MODEL_UPDATES.labels(model=model)


def serve(host: str, port: int) -> None:
    """Start the /metrics endpoint in a thread (port 0: disabled)."""
    if port:
        start_http_server(port, addr=host)
