"""Versioned records, one per topic: the only thing two pipeline stages share."""

from schemas.alert import (
    ALERT_STATES,
    SEVERITIES,
    Alert,
    AlertState,
    Impact,
    Origin,
    Playbook,
    Severity,
    alert_id_for,
)
from schemas.base import Record, dumps
from schemas.dead_letter import REASONS, DeadLetter, Reason, SourcePosition
from schemas.post import Author, Post, SubjectPost, SubjectPosts, parse_event_time

__all__ = [
    "ALERT_STATES",
    "REASONS",
    "SEVERITIES",
    "Alert",
    "AlertState",
    "Author",
    "DeadLetter",
    "Impact",
    "Origin",
    "Playbook",
    "Post",
    "Reason",
    "Record",
    "Severity",
    "SourcePosition",
    "SubjectPost",
    "SubjectPosts",
    "alert_id_for",
    "dumps",
    "parse_event_time",
]
