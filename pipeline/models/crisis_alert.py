"""An Alert record from a subject's signal report: origin, spread, sentiment, impact, playbook.

What an ops team needs to act (DESIGN.md step 4), taken from the report that caused the event:
the leading story (the hottest, else the most active) gives the origin, cascade and impact;
the subject's spread and sentiment give the context against its baseline; and the playbook
says which crisis-management step comes next.
"""

from __future__ import annotations

from typing import Any

from pipeline.models.event_time import epoch as _epoch
from schemas.alert import Alert, PlaybookStep


def leading_story(report: dict[str, Any], hot_velocity: float) -> dict[str, Any] | None:
    stories = report["stories"]
    if not stories:
        return None
    hot = [s for s in stories if s["velocity"] >= hot_velocity]
    pool = hot or stories
    return max(pool, key=lambda s: (s["velocity"], s["posts"], -_epoch(s["started_at"])))


def playbook(
    state: str, severity: str, scope: str, story: dict[str, Any] | None, alert_id: str
) -> tuple[PlaybookStep, str]:
    """The next step: isolate (contain it where it started), evaluate (it is spreading: size
    it up and find who carries it), mitigate (severe: respond everywhere), learn (resolved)."""
    if state == "resolved":
        return "learn", (
            f"Post-mortem of {alert_id}: replay its stream, review origin, spread and response"
        )
    where = ""
    if story is not None:
        first = story["first_post"]
        where = f"{first['platform']} post {first['id']} by @{first['author_handle']}"
    if severity in ("high", "critical"):
        reached = ", ".join(p["platform"] for p in story["platforms"]) if story else "all"
        leaders = ", ".join(
            f"@{ld['handle'] or ld['id']}" for ld in (story or {}).get("leaders", [])[:3]
        )
        action = (
            f"Respond publicly on {reached}; origin {where}"
            if where
            else (f"Respond publicly on {reached}")
        )
        if leaders:
            action += f"; engage the opinion leaders carrying it: {leaders}"
        return "mitigate", action
    if scope == "isolated":
        return "isolate", (
            f"Contain it where it started: {where}"
            if where
            else "Find the origin: no single story leads yet"
        )
    return "evaluate", f"Spreading across platforms: size up reach and sentiment; origin {where}"


def build_alert(
    report: dict[str, Any],
    story: dict[str, Any] | None,
    *,
    alert_id: str,
    revision: int,
    state: str,
    severity: str,
    score: float,
    terms: dict[str, float],
    rule: str,
    started_at: str,
) -> Alert:
    """The alert event for ``report``; ``story`` is the crisis's leading story, if any."""
    spread, sentiment = report["spread"], report["sentiment"]
    scope = (
        story["spread"] if story else ("widespread" if len(spread["platforms"]) > 1 else "isolated")
    )
    forecast = story["forecast"] if story else None
    step, action = playbook(state, severity, scope, story, alert_id)
    origin = None
    if story is not None:
        origin = {
            "story_id": story["story_id"],
            "first_post": story["first_post"],
            "platform": story["origin_platform"],
            "initiator_id": story["initiator"]["id"],
            "initiator_handle": story["initiator"]["handle"],
            "cascade_root": story["cascade_root"],
            "platforms": story["platforms"],
        }
    evidence_stories = sorted(report["stories"], key=lambda s: (-s["velocity"], -s["posts"]))[:5]
    summary = (
        f"{report['subject']}: {spread['velocity']:.1f} posts/min "
        f"(x{spread['ratio']:.1f} usual), sentiment {sentiment['current']:+.2f} vs "
        f"{sentiment['baseline']:+.2f}"
    )
    kinds = sentiment.get("intent_kinds", {})
    if kinds:
        stated = ", ".join(f"{k} {v:.0f}" for k, v in sorted(kinds.items(), key=lambda i: -i[1]))
        summary += (
            f"; intent to act {sentiment['intent_share_current']:.0%} vs "
            f"{sentiment['intent_share_baseline']:.0%} ({stated})"
        )
    if terms.get("harm", 0.0) > 0.0:  # only when it counts as evidence: not 6% against 5%
        summary += (
            f"; reports of harm {sentiment['harm_share_current']:.0%} of posts vs "
            f"{sentiment['harm_share_baseline']:.0%} usual"
        )
    if story is not None:
        summary += (
            f"; leading story from {story['origin_platform']} by "
            f"@{story['initiator']['handle']}, on "
            f"{'/'.join(p['platform'] for p in story['platforms'])}"
        )
    return Alert.model_validate(
        {
            "alert_id": alert_id,
            "revision": revision,
            "subject": report["subject"],
            "state": state,
            "severity": severity,
            "score": round(score, 4),
            "components": {k: round(v, 4) for k, v in terms.items()},
            "rule": rule,
            "started_at": started_at,
            "detected_at": report["as_of"],
            "origin": origin,
            "spread": {
                "velocity": spread["velocity"],
                "baseline_rate": spread["baseline_rate"],
                "ratio": spread["ratio"],
                "z": spread["z"],
                "volume_60m": spread["volume_60m"],
                "unique_authors": spread["unique_authors"],
                "audience": spread["audience"],
                "depth": story["depth"] if story else 0,
                "breadth": story["breadth"] if story else 0,
                "platforms": spread["platforms"],
            },
            "sentiment": {
                "baseline": sentiment["baseline"],
                "current": sentiment["current"],
                "delta": sentiment["delta"],
            },
            "impact": {
                "reach_so_far": forecast["reach_so_far"] if forecast else spread["audience"],
                "projected_reach": forecast["projected_reach"] if forecast else 0.0,
                "projected_low": forecast["low"] if forecast else 0.0,
                "projected_high": forecast["high"] if forecast else 0.0,
                "negative_share": story["negative_share"]
                if story
                else sentiment["negative_share_current"],
                "opinion_leaders": story["leaders"] if story else report["leaders"],
                "scope": scope,
                "intent_share": sentiment.get("intent_share_current", 0.0),
                "intent_share_baseline": sentiment.get("intent_share_baseline", 0.0),
                "intent_kinds": sentiment.get("intent_kinds", {}),
                "harm_share": sentiment.get("harm_share_current", 0.0),
                "harm_share_baseline": sentiment.get("harm_share_baseline", 0.0),
            },
            "evidence": [s["first_post"] for s in evidence_stories],
            "playbook": {"step": step, "action": action},
            "summary": summary,
        }
    )
