"""Prometheus metrics of a worker (prometheus-client), served on settings.metrics_host:port.

Label values are bounded: platforms outside KNOWN_PLATFORMS count as "other", reasons come from
schemas.REASONS, subjects from the watch list.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, start_http_server

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
MODELS = ("sentiment", "sentiment_baseline", "stories", "spread", "leaders", "crisis_anomaly")
SEVERITIES = ("low", "medium", "high", "critical")

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
LATE_POSTS = Counter(
    "crisiswatch_late_posts_total",
    "Posts older than their subject's volume horizon (event time): counted, not in any window",
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

# --- crisis room: per subject (watch-list subjects only, so the label set is bounded) --------
DETECTOR_REPORTS = Counter(
    "crisiswatch_detector_reports_total", "Subject signal reports consumed by the detector"
)
CRISIS_SCORE = Gauge(
    "crisiswatch_crisis_score", "Latest crisis score of a subject, 0..1", ["subject"]
)
SUBJECT_PHASE = Gauge(
    "crisiswatch_subject_phase",
    "Detector phase of a subject: 0 normal, 1 watch, 2 crisis",
    ["subject"],
)
SENTIMENT_CURRENT = Gauge(
    "crisiswatch_sentiment_current",
    "Recent (30 min EW) mean sentiment of a subject's posts, -1..1",
    ["subject"],
)
SENTIMENT_BASELINE = Gauge(
    "crisiswatch_sentiment_baseline",
    "Baseline (1 day EW) mean sentiment of a subject's posts, -1..1",
    ["subject"],
)
VOLUME_RATE = Gauge(
    "crisiswatch_subject_posts_per_minute",
    "A subject's posts per minute over the last 5 minutes of event time",
    ["subject"],
)
VOLUME_BASELINE = Gauge(
    "crisiswatch_subject_baseline_posts_per_minute",
    "A subject's seasonal baseline rate, posts per minute",
    ["subject"],
)
SUBJECT_PLATFORMS = Gauge(
    "crisiswatch_subject_platforms",
    "Platforms a subject was mentioned on in the last hour",
    ["subject"],
)
SUBJECT_AUDIENCE = Gauge(
    "crisiswatch_subject_audience",
    "Distinct followers of the authors who mentioned a subject in the last hour",
    ["subject"],
)
OPEN_CRISES = Gauge("crisiswatch_open_crises", "Open crises, by severity", ["severity"])
CRISIS_PROJECTED_REACH = Gauge(
    "crisiswatch_crisis_projected_reach",
    "Projected final reach of a subject's open crisis (0 when none is open)",
    ["subject"],
)
SUBJECT_GAUGES = (
    CRISIS_SCORE,
    SUBJECT_PHASE,
    SENTIMENT_CURRENT,
    SENTIMENT_BASELINE,
    VOLUME_RATE,
    VOLUME_BASELINE,
    SUBJECT_PLATFORMS,
    SUBJECT_AUDIENCE,
    CRISIS_PROJECTED_REACH,
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
    for severity in SEVERITIES:
        OPEN_CRISES.labels(severity=severity)
    for subject in subjects:
        for gauge in SUBJECT_GAUGES:
            gauge.labels(subject=subject)


def serve(host: str, port: int) -> None:
    """Start the /metrics endpoint in a thread (port 0: disabled)."""
    if port:
        start_http_server(port, addr=host)
