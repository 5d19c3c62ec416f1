"""VADER with a bounded cost per text: the fix for its quadratic scoring, at its depth.

vaderSentiment 3.3.2 rebuilds the lower-cased word list for every word it scores (negation,
idiom and "but" checks call ``list.index`` and list comprehensions per word), so its cost grows
with the square of the words; it also expands every emoji into its description's words first.
``'@united ' + '😀' * 9990`` became ~20,000 words and blocked a worker for ~137 s.

:class:`BoundedVader` expands emoji itself (one linear pass, the same descriptions) over the
first ``MAX_CHARS`` characters and hands VADER only the first ``MAX_WORDS`` words: the
quadratic part then runs on at most ``MAX_WORDS`` words, a constant, and every tweet (at most
280 characters, ~60 words) is scored exactly as before.
"""

from __future__ import annotations

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

MAX_CHARS = 1_000
MAX_WORDS = 120


class BoundedVader(SentimentIntensityAnalyzer):
    def polarity_scores(self, text: str) -> dict[str, float]:
        emojis = self.emojis
        pieces: list[str] = []
        prev_space = True
        for char in text[:MAX_CHARS]:
            description = emojis.get(char)
            if description is not None:
                if not prev_space:
                    pieces.append(" ")
                pieces.append(description)
                prev_space = False
            else:
                pieces.append(char)
                prev_space = char == " "
        words = "".join(pieces).split(maxsplit=MAX_WORDS)[:MAX_WORDS]
        scores: dict[str, float] = super().polarity_scores(" ".join(words))
        return scores
