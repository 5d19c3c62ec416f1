"""The bench's input: ordinary posts about six airlines at a chosen density of event time."""

from __future__ import annotations

import random
from datetime import datetime

import orjson

from pipeline.tools.scenario import T0, ordinary_days

SUBJECT_HANDLES = ("@united", "@Delta", "@SouthwestAir", "@AmericanAir", "@JetBlue", "@USAirways")


def bench_posts(
    n: int,
    seed: int = 11,
    per_subject_minute: float = 1.0,
    start: datetime = T0,
    prefix: str = "b",
) -> list[bytes]:
    """``n`` ordinary posts over six subjects, ``per_subject_minute`` each on average, in time
    order. Density matters: each subject-minute with posts closes one signals report (top
    stories, forecasts, leaders), so a sparse stream (1: history replayed) costs more per post
    than a busy live one (100). ``start`` and ``prefix``: where in event time, and the ids'
    prefix (the bench's latency load is more of the same stream, later)."""
    per_subject_hour = 60.0 * per_subject_minute
    hours = n / (per_subject_hour * len(SUBJECT_HANDLES)) * 1.6 + 1  # the cycle averages < 1
    while True:
        rng = random.Random(seed)
        posts = []
        for k, handle in enumerate(SUBJECT_HANDLES):
            posts.extend(
                ordinary_days(
                    rng, start, hours, handle, per_hour=per_subject_hour, prefix=f"{prefix}{k}-"
                )
            )
        if len(posts) >= n:
            break
        hours *= 2  # the daily cycle's quiet hours came up short
    posts.sort(key=lambda p: p["created_at"])
    return [orjson.dumps(p) for p in posts[:n]]
