"""Features of the shipped sentiment model, for a whole batch of posts at once (numpy/scipy).

A post becomes one sparse row of three blocks, each scaled by 1/sqrt(its entries):

- hashed word 1-2-grams over tweet-aware tokens (links and handles become ``<url>`` /
  ``<user>``, "soooo" becomes "sooo", emoticons and emoji are tokens, a hashtag also counts as
  its word) with negation scope: after "not", "never", "n't" ... the words up to the end of the
  clause are negated, so "not good" and "good" are different features;
- hashed character 2-4-grams of the normalised text (misspellings, elongations, word pieces);
- a dozen lexicon features from VADER's lexicon (MIT, read from the vaderSentiment wheel):
  positive/negative valence sums and counts with negation flipping, extremes, the last
  sentiment-bearing word, "!", "?" and shouted words.

Hashing, not a vocabulary: nothing of the training texts is shipped, only weights per bucket.
The hash is our own polynomial hash over code points (mod 2**64), so it is the same in every
process (Python's ``hash`` is salted per process).

Batch-native: the whole batch is normalised and tokenised as one string (posts joined by NUL,
which cannot occur in them), and every hash, negation scope and count is a numpy operation over
all the batch's tokens at once; Python touches each post only to cut it and to read its intent.
Cost is linear and bounded per post: only the first ``MAX_CHARS`` characters and
``MAX_TOKENS`` tokens of a post are scored (a tweet has at most 280 characters), so a 40 KB
post of 10,000 emoji costs what a long tweet costs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import vaderSentiment  # type: ignore[import-untyped]

#: Characters of a post that are scored; the rest is ignored (bounded cost per post).
MAX_CHARS = 1_000
#: Tokens of a post that are scored.
MAX_TOKENS = 200

WORD_BITS = 18
CHAR_BITS = 18
CHAR_NGRAMS = (2, 3, 4)
N_LEXICON = 12
#: Columns of a feature row: word block, char block, lexicon block.
N_FEATURES = (1 << WORD_BITS) + (1 << CHAR_BITS) + N_LEXICON
_CHAR_OFFSET = 1 << WORD_BITS
#: The columns of the character block.
CHAR_COLUMNS = range(1 << WORD_BITS, (1 << WORD_BITS) + (1 << CHAR_BITS))
_LEXICON_OFFSET = (1 << WORD_BITS) + (1 << CHAR_BITS)

# NUL separates the posts of a batch: no pattern may cross it.
_URL = re.compile(r"https?://[^\s\x00]+|www\.[^\s\x00]+")
_HANDLE = re.compile(r"@\w+")
_EMOTICON = (
    r"(?:[<>]?[:;=8][\-o\*']?[\)\]\(\[dp/\\:\}\{@\|]"
    r"|[\)\]\(\[dp/\\:\}\{@\|][\-o\*']?[:;=8][<>]?|<3+|</3)"
)
# Words first: most positions start one, and the engine tries the branches in order.
_TOKEN = re.compile(
    r"#?[a-z0-9]+(?:'[a-z]+)?|\x00|<url>|<user>|" + _EMOTICON + r"|[!?]+|[.,;:]|[^\sa-z0-9]"
)
_NEGATION_WORDS = (
    "not no never nothing nobody none neither nor nowhere cannot without cant dont doesnt didnt "
    "isnt arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt aint"
)
NEGATIONS = frozenset(_NEGATION_WORDS.split())
NEGATED_SUFFIX = "_neg"
# VADER's own scaling of a negated word's valence.
_NEGATED_VALENCE = -0.74

_P = np.uint64(0x100000001B3)
_P_INVERSE = np.uint64(pow(0x100000001B3, -1, 1 << 64))
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BIGRAM_SALT = np.uint64(0xB16B00B5)
_NEGATED_SALT = np.uint64(0x5EED5EED5EED)
_CLAUSE_END = np.array([ord(c) for c in ".,;:"], dtype=np.uint64)
_MARKS = np.array([ord(c) for c in "!?"], dtype=np.uint64)


def _codepoints(text: str) -> np.ndarray:
    # surrogatepass: a lone surrogate (possible in a str, not in valid JSON) is one code point.
    encoded = text.encode("utf-32-le", "surrogatepass")
    return np.frombuffer(encoded, dtype=np.uint32).astype(np.uint64)


def _squeeze(cps: np.ndarray) -> np.ndarray:
    """Runs of one character cut to three ("soooo" is "sooo"), for the whole batch at once."""
    if len(cps) < 4:
        return cps
    fourth = (cps[3:] == cps[2:-1]) & (cps[2:-1] == cps[1:-2]) & (cps[1:-2] == cps[:-3])
    fourth &= cps[3:] != 0  # never merge two posts' separators
    keep: np.ndarray = cps[np.concatenate(([True, True, True], ~fourth))]
    return keep


_POWERS: list[tuple[np.ndarray, np.ndarray]] = []


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**-j and P**j for j < n (mod 2**64), computed once and grown as batches need."""
    if not _POWERS or len(_POWERS[0][0]) < n:
        size = max(n, 1 << 16)
        with np.errstate(over="ignore"):
            inverse = np.cumprod(np.full(size, _P_INVERSE, dtype=np.uint64)) * _P
            direct = np.cumprod(np.full(size, _P, dtype=np.uint64)) * _P_INVERSE
        _POWERS[:] = [(inverse, direct)]
    inverse, direct = _POWERS[0]
    return inverse[:n], direct[:n]


def _span_hash(cps: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Polynomial hash of every span cps[start:end] at once: prefix sums of c_j * P**-j, so a
    span's hash is (S[end] - S[start]) * P**(end - 1), position-independent (uint64 wraps)."""
    inverse_powers, powers = _powers(len(cps))
    with np.errstate(over="ignore"):
        prefix = np.concatenate(
            (np.zeros(1, np.uint64), np.cumsum(cps * inverse_powers, dtype=np.uint64))
        )
        hashes: np.ndarray = (prefix[end] - prefix[start]) * powers[np.maximum(end - 1, 0)]
    return hashes


def _hash_words(words: Sequence[str]) -> np.ndarray:
    """Our hash of each word (as a token of a batch would get it)."""
    cps = _codepoints(" ".join(words))
    lengths = np.array([len(w) for w in words], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    return _span_hash(cps, starts, starts + lengths)


def _bucket(hashes: np.ndarray, bits: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        return ((hashes * _MIX) >> np.uint64(64 - bits)).astype(np.int64)


def _row_scale(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """Per row: 1 / sqrt(its entries), so every row weighs the same whatever the post's length
    (a repeated n-gram counts once per occurrence)."""
    per_row = np.bincount(rows, minlength=n_rows)
    scale: np.ndarray = 1.0 / np.sqrt(np.maximum(per_row, 1).astype(np.float32))
    return scale


@dataclass(frozen=True, slots=True)
class Features:
    """A batch's features (rows = posts): sparse blocks whose entries are already in post order
    (unigrams, bigrams, each n of the character n-grams...) and the dense lexicon block. A
    repeated n-gram may appear as repeated entries of a row: they add up (counts)."""

    n_rows: int
    blocks: tuple[sp.csr_matrix, ...]
    lexicon: np.ndarray

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """features @ weights: one sparse product per block, no sort of the batch's entries."""
        out: np.ndarray = self.lexicon @ weights[_LEXICON_OFFSET:]
        for block in self.blocks:
            out += block @ weights
        return out.astype(np.float32, copy=False)

    @property
    def matrix(self) -> sp.csr_matrix:
        """All of it as one CSR matrix (for training)."""
        total = sp.csr_matrix(
            (
                self.lexicon.ravel(),
                np.tile(np.arange(N_LEXICON) + _LEXICON_OFFSET, self.n_rows),
                np.arange(0, N_LEXICON * self.n_rows + 1, N_LEXICON),
            ),
            shape=(self.n_rows, N_FEATURES),
        )
        for block in self.blocks:
            total = total + block
        return total

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Columns and values of one row (for online learning, one post at a time)."""
        cols = [np.arange(N_LEXICON) + _LEXICON_OFFSET]
        values = [self.lexicon[i]]
        for block in self.blocks:
            start, end = block.indptr[i], block.indptr[i + 1]
            cols.append(block.indices[start:end])
            values.append(block.data[start:end])
        return np.concatenate(cols), np.concatenate(values).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Analysis:
    """A batch normalised and tokenised: what the features and the intent patterns read."""

    n: int
    normalised: str  # the batch's normalised posts joined by NUL
    tokens: list[list[str]]  # per post, negated ones with NEGATED_SUFFIX
    hashes: np.ndarray  # per scored token (all posts, in order): its hash, negation included
    plain: np.ndarray  # ... its hash without negation
    negated: np.ndarray
    row: np.ndarray  # ... its post
    extra_hashes: np.ndarray  # hashtags' words (#delayed also counts as delayed)
    extra_row: np.ndarray
    marks: np.ndarray  # per post: "!", "?", shouted words (each capped at 5)


def analyse(texts: Sequence[str]) -> Analysis:
    n = len(texts)
    cut = [t[:MAX_CHARS] for t in texts]
    raw = "\x00".join(cut)
    if n and raw.count("\x00") != n - 1:  # a post with a NUL of its own: make it a space
        cut = [t.replace("\x00", " ") for t in cut]
        raw = "\x00".join(cut)
    text = html.unescape(raw) if "&" in raw else raw
    # The typographic apostrophe (U+2019) is the plain one: "don\u2019t" is "don't".
    text = text.lower().replace("\u2019", "'")
    text = _HANDLE.sub(" <user> ", _URL.sub(" <url> ", text))
    words = _TOKEN.findall(text)
    cps = _squeeze(_codepoints(" ".join(words)))
    gap = cps == 32
    body = ~gap
    starts = np.flatnonzero(body & np.concatenate(([True], gap[:-1])))
    ends = np.flatnonzero(body & np.concatenate((gap[1:], [True]))) + 1
    first = cps[starts] if len(starts) else np.zeros(0, np.uint64)
    is_sep = first == 0
    index = np.arange(len(starts))
    row = np.cumsum(is_sep) - is_sep
    is_mark = np.isin(first, _MARKS)  # a run of "!" / "?" (no emoticon starts with one)
    # ".", ",", ";", ":" alone end a clause; ":)" is an emoticon.
    clause_end = (np.isin(first, _CLAUSE_END) & (ends - starts == 1)) | is_mark
    ends = np.where(is_mark, np.minimum(ends, starts + 2), ends)  # "!!!!" is "!!"
    plain = _span_hash(cps, starts, ends) if len(starts) else np.zeros(0, np.uint64)
    length = ends - starts
    nt = np.zeros(len(starts), dtype=bool)
    long_enough = np.flatnonzero(length >= 3)
    tail = ends[long_enough]
    nt[long_enough] = (
        (cps[tail - 1] == ord("t")) & (cps[tail - 2] == ord("'")) & (cps[tail - 3] == ord("n"))
    )
    boundary = is_sep | clause_end
    is_negation = (np.isin(plain, _negation_hashes()) | nt) & ~boundary
    # Negated: a negation word earlier in the same clause (clauses end at punctuation).
    clause_start = np.maximum.accumulate(np.where(boundary, index, 0)) if len(index) else index
    before = np.cumsum(is_negation) - is_negation  # negation words before each token
    negated = (before - before[clause_start] > 0) & ~boundary
    post_start = np.maximum.accumulate(np.where(is_sep, index + 1, 0)) if len(index) else index
    scored = ~is_sep & (~clause_end | is_mark) & (index - post_start < MAX_TOKENS)
    with np.errstate(over="ignore"):
        hashes = np.where(negated, (plain ^ _NEGATED_SALT) * _MIX, plain)
    kept = np.flatnonzero(scored)
    tag = kept[(first[kept] == ord("#")) & (length[kept] > 1) & ~negated[kept]]
    # The tokens as text, per post, for the intent patterns.
    marked = list(itemgetter(*kept.tolist())(words)) if len(kept) > 1 else [words[i] for i in kept]
    for j in np.flatnonzero(negated[kept]).tolist():
        marked[j] += NEGATED_SUFFIX
    bounds = np.searchsorted(row[kept], np.arange(n + 1)).tolist()
    tokens = [marked[bounds[i] : bounds[i + 1]] for i in range(n)]
    marks = np.zeros((n, 3), dtype=np.float32)
    # A character's post: how many separators stand before it (few lookups, no pass over all).
    norm_cps = _codepoints(text)
    norm_seps = np.flatnonzero(norm_cps == 0)
    for k, mark in enumerate(_MARKS):
        at = np.flatnonzero(norm_cps == mark)
        marks[:, k] = np.bincount(np.searchsorted(norm_seps, at), minlength=n)[:n]
    # Shouting: runs of three or more capital letters (ASCII), per post.
    raw_cps = _codepoints(raw)
    upper = (raw_cps >= ord("A")) & (raw_cps <= ord("Z"))
    run = upper[2:] & upper[1:-1] & upper[:-2] & ~np.concatenate(([False], upper[:-3]))
    shouted = np.flatnonzero(run)
    raw_seps = np.flatnonzero(raw_cps == 0)
    marks[:, 2] = np.bincount(np.searchsorted(raw_seps, shouted), minlength=n)[:n]
    return Analysis(
        n=n,
        normalised=text,
        tokens=tokens,
        hashes=hashes[kept],
        plain=plain[kept],
        negated=negated[kept],
        row=row[kept],
        extra_hashes=_span_hash(cps, starts[tag] + 1, ends[tag]),
        extra_row=row[tag],
        marks=np.minimum(marks, 5.0),
    )


@cache
def _negation_hashes() -> np.ndarray:
    return np.sort(_hash_words(sorted(NEGATIONS)))


def _word_runs(a: Analysis) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, columns) of the unigrams, the bigrams and the hashtags' words: each in post order."""
    same_post = a.row[1:] == a.row[:-1]
    with np.errstate(over="ignore"):
        bigrams = (a.hashes[:-1] * _MIX + a.hashes[1:]) ^ _BIGRAM_SALT
    return [
        (a.row, _bucket(a.hashes, WORD_BITS)),
        (a.row[:-1][same_post], _bucket(bigrams[same_post], WORD_BITS)),
        (a.extra_row, _bucket(a.extra_hashes, WORD_BITS)),
    ]


def _char_runs(a: Analysis) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, columns) of the character n-grams, one run per n, each in post order."""
    cps = _squeeze(_codepoints(" " + a.normalised.replace("\x00", " \x00 ") + " "))
    separators = np.concatenate(([0], np.cumsum(cps == 0)))
    row = separators[1:] - (cps == 0)
    runs = []
    for n in CHAR_NGRAMS:
        m = len(cps) - n + 1
        if m <= 0:
            continue
        hashes = np.full(m, n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for k in range(n):
                hashes = hashes * _P + cps[k : k + m]
        inside = (separators[n : n + m] - separators[:m]) == 0  # no n-gram spans two posts
        runs.append((row[:m][inside], _bucket(hashes[inside], CHAR_BITS) + _CHAR_OFFSET))
    return runs


@cache
def vader_valences() -> dict[str, float]:
    """VADER's word and emoticon valences, and each emoji's as the sum of its description's
    words (VADER's own reading of an emoji), from the files inside the vaderSentiment wheel."""
    folder = Path(vaderSentiment.__file__).parent
    valence: dict[str, float] = {}
    for line in (folder / "vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and " " not in parts[0]:
            valence[parts[0].lower()] = float(parts[1])
    for line in (folder / "emoji_utf8_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1 and parts[0] not in valence:
            total = sum(valence.get(w, 0.0) for w in parts[1].lower().split())
            if total:
                valence[parts[0]] = total
    return valence


@cache
def _valence_table() -> tuple[np.ndarray, np.ndarray]:
    """VADER's valences keyed by our token hash, sorted for searchsorted."""
    words = sorted(vader_valences().items())
    hashes = _hash_words([w for w, _ in words])
    order = np.argsort(hashes)
    return hashes[order], np.array([v for _, v in words], dtype=np.float32)[order]


def _per_post_max(values: np.ndarray, row: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    if len(values):
        starts = np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1])))
        out[row[starts]] = np.maximum.reduceat(values, starts)
    return out


def _lexicon_block(a: Analysis) -> np.ndarray:
    n, row = a.n, a.row
    keys, valences = _valence_table()
    at = np.minimum(np.searchsorted(keys, a.plain), len(keys) - 1)
    v = np.where(keys[at] == a.plain, valences[at], np.float32(0.0))
    v = np.where(a.negated, v * _NEGATED_VALENCE, v)
    positive, negative = np.maximum(v, 0.0), np.maximum(-v, 0.0)
    pos = np.bincount(row, positive, minlength=n)
    neg = np.bincount(row, negative, minlength=n)
    n_pos = np.bincount(row, positive > 0, minlength=n)
    n_neg = np.bincount(row, negative > 0, minlength=n)
    n_tokens = np.bincount(row, minlength=n)
    last_at = _per_post_max(np.where(v != 0, np.arange(len(v)), -1), row, n).astype(np.int64)
    last = np.where(n_pos + n_neg > 0, v[np.maximum(last_at, 0)] if len(v) else 0.0, 0.0)
    return np.column_stack(
        (
            pos / 4,
            neg / 4,
            n_pos / 3,
            n_neg / 3,
            _per_post_max(positive, row, n) / 4,
            -_per_post_max(negative, row, n) / 4,
            last / 4,
            (pos - neg) / (np.abs(pos - neg) + 4.0),
            (n_pos - n_neg) / np.maximum(n_tokens, 1),
            a.marks / 5,
        )
    ).astype(np.float32)


def _blocks(runs: list[tuple[np.ndarray, np.ndarray]], n: int) -> list[sp.csr_matrix]:
    """One CSR matrix per run (its entries are in post order: no sort), all scaled by
    1 / sqrt(the row's entries over every run of the block)."""
    scale = _row_scale(np.concatenate([rows for rows, _ in runs]), n)
    out = []
    for rows, cols in runs:
        indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n))))
        out.append(
            sp.csr_matrix((scale[rows], cols.astype(np.int32), indptr), shape=(n, N_FEATURES))
        )
    return out


def featurize(texts: Sequence[str], analysis: Analysis | None = None) -> Features:
    """The features of a batch of texts (``N_FEATURES`` columns, one row per text)."""
    a = analysis or analyse(texts)
    blocks = _blocks(_word_runs(a), a.n) + _blocks(_char_runs(a), a.n)
    return Features(a.n, tuple(blocks), _lexicon_block(a))
