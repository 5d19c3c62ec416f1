"""JSON Schema files for producers and consumers outside Python (schemas/jsonschema/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from schemas.alert import Alert
from schemas.base import Record
from schemas.dead_letter import DeadLetter
from schemas.feedback import Feedback
from schemas.post import Post, SubjectPost, SubjectPosts
from schemas.signals import SubjectSignals

JSONSCHEMA_DIR = Path(__file__).resolve().parent / "jsonschema"

#: File stem -> record, with the topic each describes.
EXPORTED: dict[str, tuple[type[Record], str]] = {
    "post": (Post, "posts.raw (what producers send)"),
    "subject_post": (SubjectPost, "posts (one post; read, no longer written)"),
    "subject_posts": (SubjectPosts, "posts"),
    "dead_letter": (DeadLetter, "posts.dlq"),
    "subject_signals": (SubjectSignals, "signals"),
    "feedback": (Feedback, "feedback"),
    "alert": (Alert, "alerts"),
}


def json_schemas() -> dict[str, bytes]:
    """File name -> JSON Schema document (2020-12), deterministic bytes."""
    out: dict[str, bytes] = {}
    for stem, (record, topic) in EXPORTED.items():
        schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"crisiswatch/{stem}/v{record.SCHEMA_VERSION}",
            "description": f"Crisiswatch {record.__name__} v{record.SCHEMA_VERSION}, topic {topic}",
            **record.model_json_schema(mode="validation"),
        }
        out[f"{stem}.schema.json"] = orjson.dumps(
            schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
        )
    return out


def write_json_schemas(directory: Path = JSONSCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in json_schemas().items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written
