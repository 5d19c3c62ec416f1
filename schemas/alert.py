"""Alert: a crisis alert on the alerts topic, keyed by subject.

``alert_id`` is deterministic (the same crisis always gets the same id), so a subscriber drops
duplicates that at-least-once delivery may bring, and sees updates of one crisis under one id.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Record

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = Severity.__args__  # type: ignore[attr-defined]
AlertState = Literal["opened", "escalated", "resolved"]


def alert_id_for(*parts: str) -> str:
    """Deterministic id from what identifies one crisis (subject, rule, onset window)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


class EvidencePost(Record):
    id: str
    platform: str
    author_handle: str
    followers: int
    text: str
    created_at: datetime


class Alert(Record):
    schema_version: Literal[1] = 1
    alert_id: str
    #: 1 for the opening event, +1 for each update: (alert_id, revision) names one event.
    revision: int
    subject: str
    state: AlertState
    severity: Severity
    #: Crisis score; for the volume rule, window volume / threshold.
    score: float
    #: Which detector raised it.
    rule: str
    #: Event time the crisis window started, and the event time of the post that tripped it.
    started_at: datetime
    detected_at: datetime
    window_seconds: int
    volume: int
    threshold: int
    unique_authors: int
    audience: int = Field(description="sum of distinct authors' followers in the window")
    platforms: list[str]
    evidence: list[EvidencePost]
    summary: str
