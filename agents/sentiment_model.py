"""This worker's sentiment model: scored by the signals agent, taught and restored by feedback.

``ready`` is set once the model is what it should be at start (the latest snapshot, a pinned
version, or the shipped weights): the signals agent waits for it, so no post is scored by a
model the worker is about to replace.
"""

from __future__ import annotations

import asyncio

from pipeline.models.sentiment import SentimentModel

sentiment_model = SentimentModel()
ready = asyncio.Event()
