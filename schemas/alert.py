"""Alert: a crisis alert on the alerts topic, keyed by subject (step 4 of DESIGN.md).

``alert_id`` is deterministic (a hash of subject and the event time the episode started), so the
same crisis always gets the same id, a replay gives the same ids, and ``(alert_id, revision)``
names one event: a subscriber drops the duplicates at-least-once delivery may bring. One crisis
is one id whose events are opened, then escalated (each time its severity rises), then resolved.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Record
from schemas.signals import Leader, PlatformReached, PostRef

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = Severity.__args__  # type: ignore[attr-defined]
AlertState = Literal["opened", "escalated", "resolved"]
ALERT_STATES: tuple[str, ...] = AlertState.__args__  # type: ignore[attr-defined]
PlaybookStep = Literal["isolate", "evaluate", "mitigate", "learn"]


def alert_id_for(*parts: str) -> str:
    """Deterministic id from what identifies one crisis (subject, rule, onset)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


class Origin(Record):
    """Where the crisis's leading story started (step 2: isolate the origin)."""

    story_id: str
    first_post: PostRef
    platform: str
    initiator_id: str
    initiator_handle: str
    cascade_root: str
    #: Platforms in the order the story reached them.
    platforms: list[PlatformReached]


class SpreadSummary(Record):
    #: The subject's posts per minute over the last 5 minutes vs its seasonal baseline.
    velocity: float
    baseline_rate: float
    ratio: float
    z: float
    volume_60m: int
    unique_authors: int
    audience: int
    #: Of the leading story: cascade depth and breadth.
    depth: int
    breadth: int
    platforms: list[str]


class SentimentSummary(Record):
    baseline: float
    current: float
    delta: float


class Impact(Record):
    """Step 3: how big it is and is likely to get."""

    reach_so_far: int
    projected_reach: float
    projected_low: float
    projected_high: float
    negative_share: float
    opinion_leaders: list[Leader]
    scope: Literal["isolated", "widespread"]
    #: "What will they do?": share of the subject's recent posts stating an intent to act
    #: against it (boycott, cancel, switch, refund, legal, protest, share widely), its
    #: baseline share, and the recent posts with intent per kind (decayed counts).
    intent_share: float = 0.0
    intent_share_baseline: float = 0.0
    intent_kinds: dict[str, float] = Field(default_factory=dict)
    #: Share of the subject's recent posts reporting harm to people, property or service, and
    #: the usual share it is compared with (pipeline/models/harm.py).
    harm_share: float = 0.0
    harm_share_baseline: float = 0.0


class Playbook(Record):
    step: PlaybookStep
    action: str


class Alert(Record):
    schema_version: Literal[2] = 2
    alert_id: str
    #: 1 for the opening event, +1 for each update: (alert_id, revision) names one event.
    revision: int
    subject: str
    state: AlertState
    severity: Severity
    #: Crisis score, 0..1, and what it is made of (each evidence term, 0..1, before weights).
    score: float
    components: dict[str, float]
    rule: str
    #: Event time the episode started (the score first left normal), and of this event.
    started_at: datetime
    detected_at: datetime
    origin: Origin | None
    spread: SpreadSummary
    sentiment: SentimentSummary
    impact: Impact
    #: The leading stories' first posts, most active story first.
    evidence: list[PostRef]
    playbook: Playbook
    summary: str
