"""Tweet-aware tokens of a whole batch, as code points (for sentiment_features).

``TOKEN`` defines the tokens: words (a hashtag with its ``#``, "don't" as one word), the
placeholders ``<url>`` and ``<user>``, emoticons, runs of "!" / "?", clause punctuation and any
other single character; whitespace separates. Python's regex engine tries every alternative at
every whitespace position and builds a string per token; over a batch that was the largest cost
of scoring (~5 us of ~35 a post).

``token_codepoints`` gives exactly the code points of ``" ".join(TOKEN.findall(text))`` cheaper.
A token never spans whitespace nor NUL (the posts' separator; no branch matches either inside a
token), so the text splits into chunks (runs of other characters) that are tokenised
independently; four chunks in five are plain ``[a-z0-9]+``, which the pattern takes whole as one
word. Only the other chunks go through the regex, and the result is assembled with numpy.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np

# NUL separates the posts of a batch: no pattern may cross it.
URL = re.compile(r"https?://[^\s\x00]+|www\.[^\s\x00]+")
HANDLE = re.compile(r"@\w+")
_EMOTICON = (
    r"(?:[<>]?[:;=8][\-o\*']?[\)\]\(\[dp/\\:\}\{@\|]"
    r"|[\)\]\(\[dp/\\:\}\{@\|][\-o\*']?[:;=8][<>]?|<3+|</3)"
)
# Words first: most positions start one, and the engine tries the branches in order.
TOKEN = re.compile(
    r"#?[a-z0-9]+(?:'[a-z]+)?|\x00|<url>|<user>|" + _EMOTICON + r"|[!?]+|[.,;:]|[^\sa-z0-9]"
)

_OTHER, _SPACE, _WORD, _NUL = 0, 1, 2, 3
#: Every code point ``\s`` matches is below this (U+3000, the ideographic space, is the last).
_SPACE_BELOW = 0x3001


def codepoints(text: str) -> np.ndarray:
    # surrogatepass: a lone surrogate (possible in a str, not in valid JSON) is one code point.
    encoded = text.encode("utf-32-le", "surrogatepass")
    return np.frombuffer(encoded, dtype=np.uint32).astype(np.uint64)


@cache
def _kinds() -> np.ndarray:
    """Kind of each code point below _SPACE_BELOW (index _SPACE_BELOW: any code point above)."""
    space = re.compile(r"\s")
    kinds = np.full(_SPACE_BELOW + 1, _OTHER, dtype=np.int8)
    kinds[[c for c in range(_SPACE_BELOW) if space.match(chr(c))]] = _SPACE
    kinds[ord("a") : ord("z") + 1] = _WORD
    kinds[ord("0") : ord("9") + 1] = _WORD
    kinds[0] = _NUL
    return kinds


def _expand(offsets: np.ndarray, lengths: np.ndarray, filler: int) -> np.ndarray:
    """Indices offsets[i] .. offsets[i] + lengths[i] - 1, each run followed by ``filler``."""
    total = lengths + 1
    ends = np.cumsum(total)
    index = np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - total - offsets, total)
    index[ends - 1] = filler
    return index


def token_codepoints(text: str, cps: np.ndarray) -> np.ndarray:
    """The code points of ``" ".join(TOKEN.findall(text))``; ``cps`` are the text's."""
    kind = _kinds()[np.minimum(cps, _SPACE_BELOW)]
    in_chunk = (kind == _OTHER) | (kind == _WORD)
    before = np.concatenate(([False], in_chunk[:-1]))
    after = np.concatenate((in_chunk[1:], [False]))
    starts = np.flatnonzero(in_chunk & ~before)
    ends = np.flatnonzero(in_chunk & ~after) + 1
    others = np.concatenate(([0], np.cumsum(kind == _OTHER)))
    is_complex = others[ends] > others[starts]
    # The other chunks, each followed by a NUL (a token of its own), through the regex.
    c_starts, c_ends = starts[is_complex], ends[is_complex]
    source = np.concatenate((cps, np.zeros(1, np.uint64)))
    stream = source[_expand(c_starts, c_ends - c_starts, len(cps))]
    words = TOKEN.findall(stream.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass"))
    joined = codepoints(" ".join(words))
    nul = np.flatnonzero(joined == 0)  # one after each chunk's tokens: " \x00 "
    joined_starts = np.concatenate(([0], nul[:-1] + 2))
    # Items in text order: chunks (plain: as they are; other: their tokens) and separators.
    is_item = (in_chunk & ~before) | (kind == _NUL)
    items = np.flatnonzero(is_item)
    chunk = np.cumsum(in_chunk & ~before)[items] - 1
    item_is_chunk = in_chunk[items]
    offsets = items.copy()
    lengths = np.ones(len(items), dtype=np.int64)
    lengths[item_is_chunk] = ends[chunk[item_is_chunk]] - items[item_is_chunk]
    chunk_rank = np.cumsum(is_complex) - 1  # a chunk's index among the other chunks
    at = np.flatnonzero(item_is_chunk)
    at = at[is_complex[chunk[at]]]
    k = chunk_rank[chunk[at]]
    offsets[at] = len(cps) + joined_starts[k]
    lengths[at] = nul[k] - 1 - joined_starts[k]
    combined = np.concatenate((cps, joined, np.full(1, 32, np.uint64)))
    out: np.ndarray = combined[_expand(offsets, lengths, len(combined) - 1)[:-1]]
    return out
