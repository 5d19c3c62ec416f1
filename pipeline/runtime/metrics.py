"""Prometheus metrics of a worker (prometheus-client), served on settings.metrics_host:port.

Label values are bounded: platforms outside KNOWN_PLATFORMS count as "other", reasons come from
schemas.REASONS, subjects from the watch list.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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
#: Pipeline stages (the agents on the hot path), and the topics they consume.
STAGES = ("ingest", "signals", "detector")
SOURCE_TOPICS = ("posts.raw", "posts", "signals")

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
DEAD_LETTERED = Counter(
    "crisiswatch_dead_lettered_total",
    "Records any stage sent to posts.dlq, by stage and reason (ingest's are its raw messages)",
    ["stage", "reason"],
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
SIGNALS_HELD = Gauge(
    "crisiswatch_signals_held_posts",
    "Subject posts far ahead of their subject's event time, waiting for the next post to confirm",
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
SENTIMENT_CORRECTIONS = Gauge(
    "crisiswatch_sentiment_model_corrections",
    "Ops corrections the running sentiment model has learned, its loaded snapshot included",
)
MODEL_SNAPSHOTS = Counter(
    "crisiswatch_model_snapshots_total",
    "Model snapshots written to the model store topic, by model",
    ["model"],
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
INTENT_SHARE_CURRENT = Gauge(
    "crisiswatch_intent_share_current",
    "Recent (30 min EW) share of a subject's posts stating an intent to act against it, 0..1",
    ["subject"],
)
INTENT_SHARE_BASELINE = Gauge(
    "crisiswatch_intent_share_baseline",
    "Baseline (1 day EW) share of a subject's posts stating an intent to act against it, 0..1",
    ["subject"],
)
HARM_SHARE_CURRENT = Gauge(
    "crisiswatch_harm_share_current",
    "Recent (30 min EW) share of a subject's posts reporting harm to people, property or service",
    ["subject"],
)
HARM_SHARE_BASELINE = Gauge(
    "crisiswatch_harm_share_baseline",
    "Usual share of posts reporting harm: posts in general until the subject's baseline is warm",
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
    INTENT_SHARE_CURRENT,
    INTENT_SHARE_BASELINE,
    HARM_SHARE_CURRENT,
    HARM_SHARE_BASELINE,
)

# --- pipeline health: per stage ---------------------------------------------------------------
STAGE_DURATION = Histogram(
    "crisiswatch_stage_duration_seconds",
    "Wall-clock time a stage spent on one batch",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENT_LAG = Histogram(
    "crisiswatch_event_lag_seconds",
    "Event time to processed: wall clock when a stage processed a post (a report, for the "
    "detector) minus its event time; replays of old streams land in the top buckets",
    ["stage"],
    buckets=(1, 5, 15, 60, 300, 900, 3600, 21600, 86400, 604800, 2592000, 31536000, 315360000),
)
LAST_EVENT_TIME = Gauge(
    "crisiswatch_last_event_time_seconds",
    "Latest event time a stage processed (unix seconds)",
    ["stage"],
)
CONSUMER_LAG = Gauge(
    "crisiswatch_consumer_lag_messages",
    "Records of a source topic not yet processed by this worker (end offset minus read "
    "offset, over its assigned partitions)",
    ["topic"],
)

#: Set by runtime/broker_watch.py every second: a worker whose lag cannot grow because it cannot
#: even reach the broker shows it here (issue 16, defect 4: the lag read 0 through an outage).
BROKER_REACHABLE = Gauge(
    "crisiswatch_broker_reachable",
    "1 while a bootstrap server accepts connections, 0 while none does",
)
BROKER_UNREACHABLE_SECONDS = Gauge(
    "crisiswatch_broker_unreachable_seconds",
    "Seconds since the broker became unreachable (0 while reachable)",
)


_latest_event: dict[str, float] = {}


def observe_batch(stage: str, seconds: float, event_times: Iterable[float]) -> None:
    """One batch of a stage: its wall-clock duration, and the event time of each item."""
    STAGE_DURATION.labels(stage=stage).observe(seconds)
    now, latest = time.time(), None
    lag = EVENT_LAG.labels(stage=stage)
    for ts in event_times:
        lag.observe(max(0.0, now - ts))
        latest = ts if latest is None or ts > latest else latest
    if latest is not None and latest > _latest_event.get(stage, float("-inf")):
        _latest_event[stage] = latest  # event time only moves forward: late posts do not
        LAST_EVENT_TIME.labels(stage=stage).set(latest)


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
    for stage in STAGES:
        for reason in REASONS:
            DEAD_LETTERED.labels(stage=stage, reason=reason)
        STAGE_DURATION.labels(stage=stage)
        EVENT_LAG.labels(stage=stage)
        LAST_EVENT_TIME.labels(stage=stage)
    for topic in SOURCE_TOPICS:
        CONSUMER_LAG.labels(topic=topic)
    for subject in subjects:
        for gauge in SUBJECT_GAUGES:
            gauge.labels(subject=subject)


def check_port_free(host: str, port: int) -> None:
    """Raise OSError if the metrics endpoint could not listen on ``host:port`` (0: off)."""
    if not port:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server does
        probe.bind((host, port))


def serve(host: str, port: int) -> None:
    """Start the /metrics endpoint in a thread (port 0: disabled)."""
    if port:
        start_http_server(port, addr=host)
