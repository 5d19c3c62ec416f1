"""First detector: per-subject post volume in tumbling event-time windows against a threshold.

Plain Python on a dict (the subject's state, kept in a faust table by the agent), river style:
``learn_one(post)`` takes one post (a dict shaped like schemas.Post) and returns the alert
updates it caused. Event time drives everything, so the same stream in the same order gives the
same alerts at any replay speed.

An alert opens when a window's volume reaches the threshold, escalates each time the volume
doubles again (2x, 4x: high, critical), and resolves when the window has closed: when the
subject's event-time watermark passes the window's end plus the allowed lateness.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas import Alert, EvidencePost, alert_id_for

RULE = "volume_threshold"
EVIDENCE_POSTS = 5
# Distinct authors remembered per window (for unique authors and audience): the state is written
# to a changelog, so it must stay small however big the burst; past this the figures are floors.
MAX_TRACKED_AUTHORS = 2_000
# volume / threshold at or above which a window reaches each severity (first entry opens).
SEVERITY_STEPS = ((4.0, "critical"), (2.0, "high"), (1.0, "medium"))


@dataclass(frozen=True, slots=True)
class VolumeConfig:
    window_seconds: int
    threshold: int
    allowed_lateness_seconds: int


def _severity(ratio: float) -> str | None:
    for step, name in SEVERITY_STEPS:
        if ratio >= step:
            return name
    return None


def _event_time(post: dict[str, Any]) -> float:
    value = post["created_at"]
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(value).timestamp()


class VolumeThreshold:
    """One subject's volume detector; ``state`` is a JSON-able dict owned by the caller."""

    def __init__(self, subject: str, config: VolumeConfig, state: dict[str, Any] | None = None):
        self.subject = subject
        self.config = config
        self.state: dict[str, Any] = (
            state if state else {"watermark": None, "windows": {}, "late": 0}
        )

    def learn_one(self, post: dict[str, Any]) -> list[Alert]:
        ts = _event_time(post)
        cfg = self.config
        start = int(ts // cfg.window_seconds * cfg.window_seconds)
        windows: dict[str, dict[str, Any]] = self.state["windows"]
        watermark = self.state["watermark"]
        key = str(start)  # JSON object keys are strings: keep them so in memory too
        if key not in windows and watermark is not None and self._closed(start, watermark):
            # Too late for its window, which has already been closed and reported.
            self.state["late"] += 1
            return []
        window = windows.setdefault(
            key, {"count": 0, "authors": {}, "platforms": [], "top": [], "severity": None, "rev": 0}
        )
        window["count"] += 1
        author = post["author"]
        authors = window["authors"]
        if len(authors) < MAX_TRACKED_AUTHORS or author["id"] in authors:
            authors[author["id"]] = int(author.get("followers", 0))
        if post["platform"] not in window["platforms"]:
            window["platforms"].append(post["platform"])
        self._keep_evidence(window, post)

        alerts: list[Alert] = []
        severity = _severity(window["count"] / cfg.threshold)
        if severity is not None and severity != window["severity"]:
            state = "opened" if window["severity"] is None else "escalated"
            window["severity"] = severity
            alerts.append(self._alert(start, window, state, post["created_at"]))

        if watermark is None or ts > watermark:
            self.state["watermark"] = ts
            alerts.extend(self._close_windows(ts))
        return alerts

    def predict_one(self) -> int:
        """Posts in the subject's newest open window."""
        windows = self.state["windows"]
        return windows[max(windows, key=int)]["count"] if windows else 0

    def _closed(self, start: int, watermark: float) -> bool:
        cfg = self.config
        return start + cfg.window_seconds + cfg.allowed_lateness_seconds <= watermark

    def _close_windows(self, watermark: float) -> list[Alert]:
        alerts = []
        windows = self.state["windows"]
        for key in sorted((k for k in windows if self._closed(int(k), watermark)), key=int):
            window = windows.pop(key)
            if window["severity"] is not None:
                closed_at = datetime.fromtimestamp(int(key) + self.config.window_seconds, tz=UTC)
                alerts.append(self._alert(int(key), window, "resolved", closed_at))
        return alerts

    @staticmethod
    def _keep_evidence(window: dict[str, Any], post: dict[str, Any]) -> None:
        # The most-followed authors' posts are the evidence an ops team looks at first.
        top: list[dict[str, Any]] = window["top"]
        followers = int(post["author"].get("followers", 0))
        if len(top) < EVIDENCE_POSTS or followers > top[-1]["followers"]:
            top.append(
                {
                    "id": post["id"],
                    "platform": post["platform"],
                    "author_handle": post["author"]["handle"],
                    "followers": followers,
                    "text": post["text"][:280],
                    "created_at": post["created_at"],
                }
            )
            top.sort(key=lambda p: -p["followers"])  # stable: earlier posts win ties
            del top[EVIDENCE_POSTS:]

    def _alert(self, start: int, window: dict[str, Any], state: str, detected_at: Any) -> Alert:
        cfg = self.config
        window["rev"] += 1
        started = datetime.fromtimestamp(start, tz=UTC)
        count = window["count"]
        return Alert(
            alert_id=alert_id_for(self.subject, RULE, str(start)),
            revision=window["rev"],
            subject=self.subject,
            state=state,
            severity=window["severity"],
            score=round(count / cfg.threshold, 4),
            rule=RULE,
            started_at=started,
            detected_at=detected_at,
            window_seconds=cfg.window_seconds,
            volume=count,
            threshold=cfg.threshold,
            unique_authors=len(window["authors"]),
            audience=sum(window["authors"].values()),
            platforms=list(window["platforms"]),
            evidence=[EvidencePost.model_validate(p) for p in window["top"]],
            summary=(
                f"{self.subject}: {count} posts in the {cfg.window_seconds // 60}-minute window "
                f"from {started:%Y-%m-%d %H:%M}Z ({count / cfg.threshold:.1f}x the threshold of "
                f"{cfg.threshold}); {state}"
            ),
        )
