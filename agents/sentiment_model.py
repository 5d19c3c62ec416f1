"""This worker's online sentiment model: scored by the signals agent, taught by feedback."""

from __future__ import annotations

from pipeline.models.sentiment import SentimentModel

sentiment_model = SentimentModel()
