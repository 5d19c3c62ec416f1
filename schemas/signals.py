"""SubjectSignals: the evidence about one subject, once per interval of event time (topic signals).

Steps 2 and 3 of crisis management: where each story started and how it spreads (origin,
platforms in order, cascade), how far it reaches (audience, forecast), who carries it (opinion
leaders), and how the subject's sentiment and volume move against its own baseline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Record


class SentimentSignal(Record):
    #: Slow (baseline) and fast (current) event-time EW means of the compound score, -1..1.
    baseline: float
    current: float
    delta: float
    #: delta over the standard error of the current mean.
    z: float
    negative_share_baseline: float
    negative_share_current: float
    #: Share of posts stating an intent to act against the subject (boycott, cancel, switch,
    #: refund, legal, protest, share widely; pipeline/models/intent.py), baseline and current,
    #: and the current minus the baseline.
    intent_share_baseline: float = 0.0
    intent_share_current: float = 0.0
    intent_shift: float = 0.0
    #: Posts with intent in the fast window (decayed count), and per kind of intent.
    intent_posts: float = 0.0
    intent_kinds: dict[str, float] = Field(default_factory=dict)
    #: Share of posts reporting harm to people, property or service (pipeline/models/harm.py):
    #: the usual share (posts in general until the baseline is warm, then the subject's own),
    #: the current share, the current minus the usual, and the posts in the fast window.
    harm_share_baseline: float = 0.0
    harm_share_current: float = 0.0
    harm_shift: float = 0.0
    harm_posts: float = 0.0
    #: A significant negative shift against the baseline.
    shift: bool
    #: The baseline has enough history (event time and posts) to be trusted.
    warm: bool
    n: int


class SpreadSignal(Record):
    volume_5m: int
    volume_15m: int
    volume_60m: int
    #: Posts per minute over the last 5 minutes, and its change per minute.
    velocity: float
    acceleration: float
    #: Seasonal (hour-of-day) baseline rate, posts per minute, and its std.
    baseline_rate: float
    baseline_std: float
    ratio: float
    z: float
    unique_authors: int
    audience: int
    platforms: list[str]
    #: The baseline has enough history to be trusted.
    warm: bool
    late: int


class PostRef(Record):
    id: str
    platform: str
    author_id: str
    author_handle: str
    followers: int
    created_at: datetime
    text: str


class AuthorRef(Record):
    id: str
    handle: str
    followers: int


class PlatformReached(Record):
    platform: str
    first_seen: datetime


class Leader(Record):
    id: str
    handle: str
    followers: int
    #: Influence: log reach + interactions received + strong (reciprocal, repeated) ties.
    score: float
    strong_ties: int


class ReachForecast(Record):
    reach_so_far: int
    projected_reach: float
    #: Interval of the projection (uncertainty of the estimated infectiousness).
    low: float
    high: float
    branching: float
    supercritical: bool
    capped: bool


class StorySignal(Record):
    story_id: str
    first_post: PostRef
    origin_platform: str
    initiator: AuthorRef
    cascade_root: str
    #: Platforms in the order the story reached them.
    platforms: list[PlatformReached]
    posts: int
    unique_authors: int
    audience: int
    depth: int
    breadth: int
    started_at: datetime
    last_seen: datetime
    spread: Literal["isolated", "widespread"]
    #: Posts per minute over the story's last 5 minutes of event time.
    velocity: float
    negative_share: float
    forecast: ReachForecast
    leaders: list[Leader]


class SubjectSignals(Record):
    schema_version: Literal[1] = 1
    subject: str
    #: Event time these signals describe: the end of the interval just completed.
    as_of: datetime
    interval_seconds: int
    #: Posts of this subject seen so far.
    posts: int
    sentiment: SentimentSignal
    spread: SpreadSignal
    #: Most active stories first.
    stories: list[StorySignal]
    #: The subject's most influential authors overall.
    leaders: list[Leader]
