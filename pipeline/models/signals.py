"""One subject's online signals: sentiment vs baseline, stories and origin, spread, leaders.

Plain Python over the models of sentiment.py, story_index.py, volume.py, reach_forecast.py,
forecast_calibration.py and leaders.py, river style:
``learn_one(post, score)`` takes one post (a dict shaped like schemas.Post) and its sentiment
score, and returns the reports (SubjectSignals as JSON dicts) of the event-time intervals it
completed. The state is one JSON-able dict per component (``state_parts``), so the agent can
keep each in a table key of its own and write, once per batch, only those that changed
(``take_changed_parts``: the model notes which parts each step changes, nothing is compared).

Reports come at interval boundaries of event time: a post in a later interval than the last
one first closes that last interval, and the report describes the state at its end (everything
up to, not including, the post that crossed). Intervals without posts have no report. The
same stream in the same order gives the same reports at any speed.

Event time is guarded against outliers (``max_ahead_seconds``): a post more than that ahead of
the subject's frontier (the latest event time learnt) would move every window and baseline by
hours at once, and every later post would be late. It is held until the subject's next post
decides: if the stream goes on at or after it (a quiet spell ended, a replay skipped a gap,
the subject's first posts), it is learnt; if the stream comes back to earlier times, it was an
outlier and is rejected (``future_timestamp``, drained by ``take_rejected``). One post never moves
the clock by more than ``max_ahead_seconds``; only the wall clock is never consulted, so replays
of old data behave as live.

Reach forecasts calibrate themselves on the subject's own stories: the features of a few
forecasts of each reported story (one per doubling of its age) are kept until the story
closes, and its final posts and reach then teach the calibrator (``forecast`` part).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pipeline.models import state_log
from pipeline.models.event_time import epoch
from pipeline.models.forecast_calibration import (
    CalibrationConfig,
    CascadeForecastConfig,
    CascadeForecaster,
)
from pipeline.models.leaders import AuthorInfluence, LeaderConfig
from pipeline.models.reach_forecast import ForecastConfig
from pipeline.models.sentiment import BaselineConfig, SentimentBaseline, SentimentScore
from pipeline.models.story_index import StoryTracker
from pipeline.models.story_types import StoryConfig
from pipeline.models.volume import SpreadConfig, SubjectSpread
from schemas.post import parse_event_time
from schemas.signals import (
    PostRef,
    ReachForecast,
    SentimentSignal,
    SpreadSignal,
)

PARTS = ("meta", "stories", "leaders", "spread", "sentiment", "forecast")
#: Entries of a part written by change (pipeline/models/state_log.py), and fields written only
#: when noted changed.
LEADERS_LOGGED = ("authors",)
STORIES_LOGGED = ("posts", "stories")
STORIES_NOTED = ("closed",)
SPREAD_LOGGED = ("authors",)
# The schema's fields: a report carries exactly these (the models' own dicts hold more).
SENTIMENT_FIELDS = frozenset(SentimentSignal.model_fields)
SPREAD_FIELDS = frozenset(SpreadSignal.model_fields)
POST_REF_FIELDS = tuple(PostRef.model_fields)
FORECAST_FIELDS = tuple(ReachForecast.model_fields)


@dataclass(frozen=True)
class SignalsConfig:
    #: Event-time interval between reports.
    interval_seconds: int = 60
    top_stories: int = 5
    leaders_per_story: int = 3
    top_leaders: int = 5
    #: Bounds per subject (see the README's memory section): they keep each table value small.
    stories: StoryConfig = field(
        default_factory=lambda: StoryConfig(max_active_stories=50, max_recent_posts=2_000)
    )
    leaders: LeaderConfig = field(default_factory=lambda: LeaderConfig(max_authors=1_000))
    spread: SpreadConfig = field(default_factory=SpreadConfig)
    sentiment: BaselineConfig = field(default_factory=BaselineConfig)
    #: SEISMIC with a 90% interval, calibrated at the same coverage once 20 stories closed,
    #: on the subject's last 100 closed stories (the state stays small).
    forecast: CascadeForecastConfig = field(
        default_factory=lambda: CascadeForecastConfig(
            ForecastConfig(interval=0.9), CalibrationConfig(coverage=0.9, max_samples=100)
        )
    )
    #: Forecasts of a story kept to learn from when it closes (one per doubling of its age),
    #: and the posts it needs for them to count.
    forecasts_per_story: int = 8
    forecast_min_posts: int = 3
    #: A post further than this ahead of the subject's event-time frontier waits for the
    #: subject's next post to confirm it (see the module docstring). Below the spread horizon,
    #: so one accepted post never makes the next ordinary ones late.
    max_ahead_seconds: int = 1800

    def __post_init__(self) -> None:
        if self.interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        if not 0 < self.max_ahead_seconds < self.spread.horizon_minutes * 60:
            raise ValueError("max_ahead_seconds must be positive and below the spread horizon")


class Rejected(NamedTuple):
    """A post the signals stage will not learn: the agent dead-letters it."""

    post: dict[str, Any]
    reason: str
    detail: str
    #: What the caller passed with the post (the agent: its topic, partition and offset).
    source: Any


def _event_time(post: dict[str, Any]) -> float:
    """The post's event time, parsed once for every model of the subject (stories, leaders,
    spread, sentiment, the report clock), as ingest reads it: text without an offset is UTC."""
    return parse_event_time(post["created_at"]).timestamp()


class SubjectSignalsModel:
    def __init__(
        self,
        subject: str,
        config: SignalsConfig,
        parts: dict[str, dict[str, Any] | None] | None = None,
    ) -> None:
        parts = parts or {}
        self.subject = subject
        self.config = config
        self.meta: dict[str, Any] = parts.get("meta") or {
            "interval": None,
            "posts": 0,
            "duplicates": 0,
            # story id -> [posts, negative posts], for the stories still active
            "story_sentiment": {},
        }
        # Older states: the frontier is the spread watermark (the largest event time learnt).
        self.meta.setdefault("frontier", self.spread_watermark(parts.get("spread")))
        #: A post ahead of the frontier, waiting for the next one: [post, score, source, ts].
        self.meta.setdefault("held", None)
        self._rejected: list[Rejected] = []
        self.stories = StoryTracker(subject, config.stories, parts.get("stories"))
        self.leaders = AuthorInfluence(config.leaders, parts.get("leaders"))
        # 1,000 authors, 2,000 recent posts, a few of them changed by a batch: written as
        # deltas (state_log.py).
        self._leaders_log = state_log.OrderedLog(parts.get("leaders"), LEADERS_LOGGED)
        self._stories_log = state_log.OrderedLog(
            parts.get("stories"), STORIES_LOGGED, STORIES_NOTED
        )
        self._spread_log = state_log.OrderedLog(parts.get("spread"), SPREAD_LOGGED)
        self.spread = SubjectSpread(config.spread, parts.get("spread"))
        self.sentiment = SentimentBaseline(config.sentiment, parts.get("sentiment"))
        self.forecaster = CascadeForecaster(config.forecast, parts.get("forecast"))
        # story id -> [[age doubling, *features], ...] of its forecasts (state from before: none)
        self._seen: dict[str, list[list[float]]] = self.meta.setdefault("forecasts_seen", {})
        #: Parts changed since take_changed_parts last gave them.
        self._changed: set[str] = set()

    def state_parts(self) -> dict[str, dict[str, Any]]:
        return {
            "meta": self.meta,
            "stories": self.stories.state,
            "leaders": self.leaders.state,
            "spread": self.spread.state,
            "sentiment": self.sentiment.state,
            "forecast": self.forecaster.state,
        }

    @classmethod
    def load(
        cls, subject: str, config: SignalsConfig, get: Callable[[str], Any]
    ) -> SubjectSignalsModel:
        """The model as ``take_changed_parts`` wrote it: ``get(key)`` reads a table key (None
        if never written), the parts and the leaders part's deltas."""
        parts = {part: get(part) for part in PARTS}
        parts["leaders"] = state_log.load(
            parts["leaders"], LEADERS_LOGGED, lambda n: get(f"leaders+{n}")
        )
        parts["stories"] = state_log.load(
            parts["stories"], STORIES_LOGGED, lambda n: get(f"stories+{n}")
        )
        parts["spread"] = state_log.load(
            parts["spread"], SPREAD_LOGGED, lambda n: get(f"spread+{n}")
        )
        return cls(subject, config, parts)

    def take_changed_parts(self) -> dict[str, dict[str, Any] | None]:
        """What changed since the last call, {table key: value, or None: delete the key}: the
        parts (``state_parts``) that changed; leaders, stories and spread as deltas of the
        entries that changed (``<part>+<n>``: authors; recent posts, active stories, closed
        summaries; authors), now and then whole (pipeline/models/state_log.py); ``load`` reads
        them back. Learning a post changes meta, stories, leaders, spread and sentiment; the
        forecast calibrator changes only when a story closes; a report changes meta."""
        parts = self.state_parts()
        changed: dict[str, dict[str, Any] | None] = {}
        for part in PARTS:
            if part not in self._changed:
                continue
            if part == "leaders":
                notes = {"authors": self.leaders.changes}
                changed.update(self._leaders_log.take(part, parts[part], notes))
            elif part == "spread":
                notes = {"authors": self.spread.author_changes}
                changed.update(self._spread_log.take(part, parts[part], notes))
            elif part == "stories":
                tracker = self.stories
                notes = {"posts": tracker.post_changes, "stories": tracker.story_changes}
                lists = {"closed": tracker.closed_changes}
                changed.update(
                    self._stories_log.take(part, parts[part], notes, tracker.changed_fields, lists)
                )
            else:
                changed[part] = parts[part]
        self._changed.clear()
        return changed

    @staticmethod
    def spread_watermark(spread: dict[str, Any] | None) -> float | None:
        return spread.get("watermark") if spread else None

    @property
    def held(self) -> int:
        """Posts waiting for the next one to confirm their event time (0 or 1)."""
        return 0 if self.meta["held"] is None else 1

    def take_rejected(self) -> list[Rejected]:
        """The posts rejected since the last call (the agent dead-letters them)."""
        rejected, self._rejected = self._rejected, []
        return rejected

    def learn_one(
        self, post: dict[str, Any], score: SentimentScore, source: Any = None
    ) -> list[dict[str, Any]]:
        """Learn ``post`` (or hold it, see the module docstring); return the completed reports.

        ``source`` is kept with a held post and handed back with it if it is rejected."""
        ts = _event_time(post)
        meta = self.meta
        ahead = self.config.max_ahead_seconds
        reports: list[dict[str, Any]] = []
        self._changed.add("meta")  # held, frontier, counts
        held = meta["held"]
        if held is not None:
            meta["held"] = None
            held_post, held_score, held_source, held_ts = held
            if ts < held_ts - ahead:  # the stream came back: the held post was an outlier
                self._rejected.append(
                    Rejected(
                        held_post,
                        "future_timestamp",
                        f"created_at {held_post['created_at']} is {(held_ts - ts) / 3600:,.1f} h "
                        f"ahead of subject {self.subject}'s event time: its next post "
                        f"({post['created_at']}) did not follow it",
                        held_source,
                    )
                )
            else:
                reports.extend(self._learn(held_post, SentimentScore(**held_score), held_ts))
        frontier = meta["frontier"]
        if frontier is None or ts > frontier + ahead:
            meta["held"] = [post, score.as_dict(), source, ts]
            return reports
        reports.extend(self._learn(post, score, ts))
        return reports

    def _learn(
        self, post: dict[str, Any], score: SentimentScore, ts: float
    ) -> list[dict[str, Any]]:
        meta = self.meta
        if meta["frontier"] is None or ts > meta["frontier"]:
            meta["frontier"] = ts
        interval = int(ts // self.config.interval_seconds)
        reports: list[dict[str, Any]] = []
        if meta["interval"] is None:
            meta["interval"] = interval
        elif interval > meta["interval"]:
            # The interval that just completed: the last one that had posts.
            reports.append(self.report((meta["interval"] + 1) * self.config.interval_seconds))
            meta["interval"] = interval

        parent = post.get("repost_of") or post.get("quote_of") or post.get("reply_to")
        parent_author = self.stories.author_of(parent) if parent else None
        update = self.stories.learn(post, ts)  # no per-post summary: nothing here reads one
        self._changed.add("stories")
        if update.duplicate:  # at-least-once redelivery: already counted everywhere
            meta["duplicates"] += 1
            return reports
        self._changed.update(("leaders", "spread", "sentiment"))
        author = post["author"]
        self.leaders.learn_one(post, parent_author, ts)
        self.spread.learn_one(ts, author["id"], int(author.get("followers", 0)), post["platform"])
        self.sentiment.learn_one(ts, score)
        meta["posts"] += 1
        story_sentiment = meta["story_sentiment"]
        counts = story_sentiment.get(update.story_id)
        if counts is None:
            counts = story_sentiment[update.story_id] = [0, 0]
        counts[0] += 1
        counts[1] += score.label == "negative"
        for merged in update.merged:  # its answers came first: their story is now this one
            before = story_sentiment.pop(merged, [0, 0])
            counts[0] += before[0]
            counts[1] += before[1]
            self._seen.pop(merged, None)
        if update.closed:
            self._learn_closed(update.closed)
        for closed in update.closed:
            story_sentiment.pop(closed, None)
        return reports

    def _learn_closed(self, closed: tuple[str, ...]) -> None:
        """Closed stories' final posts and reach calibrate the forecasts made of them."""
        seen_of: dict[str, Any] = {}
        for story_id in closed:
            seen_of.setdefault(story_id, self._seen.pop(story_id, None))
        if not any(seen_of.values()):
            return  # most stories close small, with no forecast remembered: nothing to look up
        for story_id in closed:
            seen = seen_of.pop(story_id, None)  # once per id, as before
            # The latest kept summary of the id; only these are summarised (closed_stories
            # would summarise every closed story not summarised yet, most never read).
            final = self.stories.closed_story(story_id) if seen else None
            if seen and final is not None:
                self._changed.add("forecast")
                for snapshot in seen:
                    self.forecaster.learn_one(snapshot[1:], final["posts"], final["reach"])

    def _remember(self, story_id: str, posts: int, age: float, features: list[float]) -> None:
        if posts < self.config.forecast_min_posts:
            return
        doubling = math.floor(math.log2(max(age, 60.0) / 60.0))
        seen = self._seen.setdefault(story_id, [])
        if len(seen) < self.config.forecasts_per_story and all(s[0] != doubling for s in seen):
            seen.append([doubling, *features])

    def report(self, as_of: float) -> dict[str, Any]:
        """The signals as of ``as_of`` (event time, epoch seconds): a SubjectSignals record as
        its JSON dict, built field by field (validating a pydantic model per report was a
        tenth of a worker's time; tests validate these dicts against the schema)."""
        cfg = self.config
        self._changed.add("meta")  # the forecasts it makes are remembered there
        story_sentiment = self.meta["story_sentiment"]
        scores: dict[str, float] = {}  # author influence, scored once per report
        # Subject leaders are ranked among the authors carrying the top stories: ranking every
        # tracked author on every report costs O(authors), and these are what matters. Their
        # ranking merges the stories' own (AuthorInfluence.top_of_union).
        rankings = []
        stories = []
        tracker = self.stories
        for story in tracker.hottest_states(cfg.top_stories, as_of):  # read-only state
            story_id = story["id"]
            posts, negative = story_sentiment.get(story_id, [0, 0])
            fields = tracker.signal_fields(story, POST_REF_FIELDS)
            started = epoch(fields["started_at"])
            forecast = self.forecaster.predict_one(
                story["reach_points"],
                now=as_of,
                started=started,
                reach_so_far=story["reach"],
                count_so_far=story["posts"],
                calibrate_counts=False,  # the report carries the reach forecast only
            )
            self._remember(story_id, story["posts"], as_of - started, forecast["features"])
            ranked = self.leaders.rank(story["authors"], scores)
            rankings.append(ranked)
            fields["velocity"] = _story_velocity(story["per_minute"], as_of)
            fields["negative_share"] = negative / posts if posts else 0.0
            fields["forecast"] = _finite({k: forecast[k] for k in FORECAST_FIELDS})
            fields["leaders"] = self.leaders.describe(ranked[: cfg.leaders_per_story], False)
            stories.append(fields)
        return {
            "schema_version": 1,
            "subject": self.subject,
            "as_of": datetime.fromtimestamp(as_of, tz=UTC).isoformat().replace("+00:00", "Z"),
            "interval_seconds": cfg.interval_seconds,
            "posts": self.meta["posts"],
            "sentiment": _finite(
                {k: v for k, v in self.sentiment.score_one().items() if k in SENTIMENT_FIELDS}
            ),
            "spread": _finite(
                {k: v for k, v in self.spread.score_one().items() if k in SPREAD_FIELDS}
            ),
            "stories": stories,
            "leaders": self.leaders.describe(
                self.leaders.top_of_union(rankings, cfg.top_leaders), detail=False
            ),
        }


def _story_velocity(per_minute: list[list[int]], as_of: float) -> float:
    """Posts per minute over the 5 minutes of event time before ``as_of``."""
    start = as_of - 5 * 60
    return sum(n for minute, n in per_minute if start <= minute < as_of) / 5.0


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    # JSON has no infinity: guarded ratios should not produce one, but never emit it.
    return {
        k: (0.0 if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()
    }
