from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipeline.volume import RULE, VolumeConfig, VolumeThreshold
from schemas import Alert, alert_id_for

T0 = datetime(2015, 2, 20, 10, 0, tzinfo=UTC)
CONFIG = VolumeConfig(window_seconds=3600, threshold=4, allowed_lateness_seconds=600)


def post(n: int, minutes: float, followers: int = 0, platform: str = "twitter") -> dict[str, Any]:
    return {
        "id": f"p{n}",
        "platform": platform,
        "author": {"id": f"a{n}", "handle": f"h{n}", "followers": followers},
        "text": f"post {n}",
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat(),
    }


def run(posts: list[dict[str, Any]], persist: bool = False) -> list[Alert]:
    """Feed posts; with persist, the state goes through JSON between posts, as in the table."""
    state: dict[str, Any] | None = None
    alerts: list[Alert] = []
    for p in posts:
        model = VolumeThreshold("acme", CONFIG, state)
        alerts.extend(model.learn_one(p))
        state = orjson.loads(orjson.dumps(model.state)) if persist else model.state
    return alerts


def summary(alerts: list[Alert]) -> list[tuple[str, str, int, datetime]]:
    return [(a.state, a.severity, a.volume, a.detected_at) for a in alerts]


def test_quiet_stream_raises_nothing() -> None:
    # 3 posts an hour for 10 hours: under the threshold of 4 in every window.
    assert run([post(n, minutes=n * 20) for n in range(30)]) == []


def test_burst_opens_escalates_and_resolves_in_event_time() -> None:
    burst = [post(n, minutes=n * 5, followers=n) for n in range(9)]
    later = [post(99, minutes=75)]  # watermark 11:15 passes 11:00 + 10 min lateness
    alerts = run([*burst, *later])
    assert summary(alerts) == [
        ("opened", "medium", 4, T0 + timedelta(minutes=15)),
        ("escalated", "high", 8, T0 + timedelta(minutes=35)),
        ("resolved", "high", 9, T0 + timedelta(hours=1)),
    ]
    expected_id = alert_id_for("acme", RULE, str(int(T0.timestamp())))
    assert {a.alert_id for a in alerts} == {expected_id}
    assert [a.revision for a in alerts] == [1, 2, 3]
    assert [e.id for e in alerts[0].evidence] == ["p3", "p2", "p1", "p0"]
    assert alerts[1].audience == sum(range(8))


def test_window_stays_open_for_late_posts_within_lateness() -> None:
    posts = [post(n, minutes=n) for n in range(3)]
    posts.append(post(10, minutes=65))  # next window; 10:00 window still open until 11:10
    posts.append(post(11, minutes=50))  # late but within lateness: counts in the 10:00 window
    alerts = run(posts)
    assert summary(alerts) == [("opened", "medium", 4, T0 + timedelta(minutes=50))]


def test_posts_after_the_window_closed_are_late_and_counted_as_such() -> None:
    model = VolumeThreshold("acme", CONFIG)
    for p in [post(n, minutes=n) for n in range(3)]:
        model.learn_one(p)
    model.learn_one(post(10, minutes=80))  # closes the 10:00 window (11:10 passed)
    assert model.learn_one(post(11, minutes=30)) == []
    assert model.state["late"] == 1
    assert "0" not in model.state["windows"]


def test_same_stream_same_alerts_whether_state_is_persisted_or_not() -> None:
    posts = [post(n, minutes=n * 3) for n in range(50)]
    direct = run(posts)
    persisted = run(posts, persist=True)
    assert [a.to_bytes() for a in direct] == [a.to_bytes() for a in persisted]
    assert len(direct) > 0


def test_platforms_in_order_of_arrival() -> None:
    posts = [post(0, 0, platform="tiktok"), post(1, 1), post(2, 2, platform="news"), post(3, 3)]
    alerts = run(posts)
    assert alerts[0].platforms == ["tiktok", "twitter", "news"]


def test_predict_one_is_newest_window_volume() -> None:
    model = VolumeThreshold("acme", CONFIG)
    assert model.predict_one() == 0
    for p in [post(n, minutes=n) for n in range(3)]:
        model.learn_one(p)
    assert model.predict_one() == 3
