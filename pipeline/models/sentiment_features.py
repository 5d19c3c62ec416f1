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
which cannot occur in them; sentiment_tokens.py), and every hash (token_hash.py), negation
scope and count is a numpy operation over all the batch's tokens at once; Python touches each
post only to cut it, and reads as text only the few posts that may state an intent.
Cost is linear and bounded per post: only the first ``MAX_CHARS`` characters and
``MAX_TOKENS`` tokens of a post are scored (a tweet has at most 280 characters), so a 40 KB
post of 10,000 emoji costs what a long tweet costs.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import vaderSentiment  # type: ignore[import-untyped]

from pipeline.models.sentiment_tokens import HANDLE, TOKEN, URL, codepoints, token_codepoints
from pipeline.models.token_hash import MIX as _MIX
from pipeline.models.token_hash import HashSet
from pipeline.models.token_hash import P as _P
from pipeline.models.token_hash import bucket as _bucket
from pipeline.models.token_hash import hash_words as _hash_words
from pipeline.models.token_hash import prefix_sums as _prefix
from pipeline.models.token_hash import span_hash as _span_hash

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

_NEGATION_WORDS = (
    "not no never nothing nobody none neither nor nowhere cannot without cant dont doesnt didnt "
    "isnt arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt aint"
)
NEGATIONS = frozenset(_NEGATION_WORDS.split())
NEGATED_SUFFIX = "_neg"
# VADER's own scaling of a negated word's valence.
_NEGATED_VALENCE = -0.74

_BIGRAM_SALT = np.uint64(0xB16B00B5)
_NEGATED_SALT = np.uint64(0x5EED5EED5EED)
_CLAUSE_END = np.array([ord(c) for c in ".,;:"], dtype=np.uint64)
_MARKS = np.array([ord(c) for c in "!?"], dtype=np.uint64)


def _squeeze(cps: np.ndarray) -> np.ndarray:
    """Runs of one character cut to three ("soooo" is "sooo"), for the whole batch at once."""
    if len(cps) < 4:
        return cps
    fourth = (cps[3:] == cps[2:-1]) & (cps[2:-1] == cps[1:-2]) & (cps[1:-2] == cps[:-3])
    fourth &= cps[3:] != 0  # never merge two posts' separators
    keep: np.ndarray = cps[np.concatenate(([True, True, True], ~fourth))]
    return keep


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
    normalised_seps: np.ndarray  # positions of the NULs in ``normalised``
    post_first: np.ndarray  # per post: the index of its first token among the batch's
    kept: np.ndarray  # per scored token: its index among the batch's tokens
    bounds: list[int]  # post i's scored tokens are kept[bounds[i]:bounds[i + 1]]
    hashes: np.ndarray  # per scored token (all posts, in order): its hash, negation included
    plain: np.ndarray  # ... its hash without negation
    negated: np.ndarray
    row: np.ndarray  # ... its post
    extra_hashes: np.ndarray  # hashtags' words (#delayed also counts as delayed)
    extra_row: np.ndarray
    marks: np.ndarray  # per post: "!", "?", shouted words (each capped at 5)

    def tokens_of(self, posts: Sequence[int]) -> list[list[str]]:
        """The given posts' scored tokens as text, negated ones with NEGATED_SUFFIX (for the
        intent patterns), in one pass over them: most posts are never read as text."""
        bounds = np.asarray(self.bounds)
        at = np.asarray(posts, dtype=np.int64)
        starts, lengths = bounds[at], bounds[at + 1] - bounds[at]
        # The positions (in ``kept``) of those posts' tokens, post after post.
        ends = np.cumsum(lengths)
        index = np.arange(ends[-1] if len(ends) else 0) + np.repeat(
            starts - ends + lengths, lengths
        )
        # The posts' tokens as text again: TOKEN on a post alone gives the batch's tokens of
        # that post (none crosses a separator), so no batch builds every token's string.
        text = self.normalised
        seps = [-1, *self.normalised_seps.tolist(), len(text)]
        words: list[str] = []
        offsets = []
        for i, first in zip(at.tolist(), self.post_first[at].tolist(), strict=True):
            offsets.append(len(words) - first)
            words += TOKEN.findall(text, seps[i] + 1, seps[i + 1])
        local = self.kept[index] + np.repeat(np.array(offsets, dtype=np.int64), lengths)
        marked = [words[k] for k in local.tolist()]
        for j in np.flatnonzero(self.negated[index]).tolist():
            marked[j] += NEGATED_SUFFIX
        cuts = [0, *ends.tolist()]
        return [marked[cuts[i] : cuts[i + 1]] for i in range(len(at))]

    @property
    def tokens(self) -> list[list[str]]:
        """Every post's tokens (``tokens_of``)."""
        return self.tokens_of(range(self.n))


def token_keys(tokens: Sequence[str]) -> np.ndarray:
    """The hash each token gets in ``Analysis.hashes`` (a NEGATED_SUFFIX token: the negated
    hash of its word), for tokens without runs of four equal characters (those are squeezed)."""
    negated = np.array([t.endswith(NEGATED_SUFFIX) for t in tokens], dtype=bool)
    plain = _hash_words([t.removesuffix(NEGATED_SUFFIX) for t in tokens])
    with np.errstate(over="ignore"):
        keys: np.ndarray = np.where(negated, (plain ^ _NEGATED_SALT) * _MIX, plain)
    return keys


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
    text = HANDLE.sub(" <user> ", URL.sub(" <url> ", text))
    norm_cps = codepoints(text)
    cps = _squeeze(token_codepoints(text, norm_cps))
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
    prefix = _prefix(cps)
    plain = _span_hash(prefix, starts, ends)
    length = ends - starts
    nt = np.zeros(len(starts), dtype=bool)
    long_enough = np.flatnonzero(length >= 3)
    tail = ends[long_enough]
    nt[long_enough] = (
        (cps[tail - 1] == ord("t")) & (cps[tail - 2] == ord("'")) & (cps[tail - 3] == ord("n"))
    )
    boundary = is_sep | clause_end
    is_negation = (_negation_hashes().contains(plain) | nt) & ~boundary
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
    bounds = np.searchsorted(row[kept], np.arange(n + 1)).tolist()
    marks = np.zeros((n, 3), dtype=np.float32)
    # A character's post: how many separators stand before it (few lookups, no pass over all).
    norm_seps = np.flatnonzero(norm_cps == 0)
    for k, mark in enumerate(_MARKS):
        at = np.flatnonzero(norm_cps == mark)
        marks[:, k] = np.bincount(np.searchsorted(norm_seps, at), minlength=n)[:n]
    # Shouting: runs of three or more capital letters (ASCII), per post.
    raw_cps = codepoints(raw)
    upper = (raw_cps >= ord("A")) & (raw_cps <= ord("Z"))
    run = upper[2:] & upper[1:-1] & upper[:-2] & ~np.concatenate(([False], upper[:-3]))
    shouted = np.flatnonzero(run)
    raw_seps = np.flatnonzero(raw_cps == 0)
    marks[:, 2] = np.bincount(np.searchsorted(raw_seps, shouted), minlength=n)[:n]
    return Analysis(
        n=n,
        normalised=text,
        normalised_seps=norm_seps,
        post_first=np.concatenate(([0], np.flatnonzero(is_sep) + 1)),
        kept=kept,
        bounds=bounds,
        hashes=hashes[kept],
        plain=plain[kept],
        negated=negated[kept],
        row=row[kept],
        extra_hashes=_span_hash(prefix, starts[tag] + 1, ends[tag]),
        extra_row=row[tag],
        marks=np.minimum(marks, 5.0),
    )


@cache
def _negation_hashes() -> HashSet:
    return HashSet(_hash_words(sorted(NEGATIONS)))


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
    cps = _squeeze(codepoints(" " + a.normalised.replace("\x00", " \x00 ") + " "))
    separators = np.concatenate(([0], np.cumsum(cps == 0)))
    row = separators[1:] - (cps == 0)
    runs = []
    # The hash of an n-gram is n * P**n + sum_k c_k * P**(n-1-k) (mod 2**64), so the (n+1)-gram
    # starting at i is P * (n-gram at i) + P**(n+1) + c[i + n]: each n extends the previous.
    lo = CHAR_NGRAMS[0]
    hashes: np.ndarray = np.full(max(len(cps) - lo + 1, 0), lo, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(lo):
            hashes = hashes * _P + cps[k : k + len(hashes)]
    for n in CHAR_NGRAMS:
        m = len(cps) - n + 1
        if m <= 0:
            break
        if n > lo:
            with np.errstate(over="ignore"):
                hashes = hashes[:m] * _P + (cps[n - 1 :] + np.uint64(pow(int(_P), n, 1 << 64)))
        inside = np.flatnonzero(separators[n : n + m] == separators[:m])  # within one post
        runs.append((row[inside], _bucket(hashes[inside], CHAR_BITS) + _CHAR_OFFSET))
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
def _valence_table() -> tuple[HashSet, np.ndarray]:
    """VADER's valences keyed by our token hash."""
    words = sorted(vader_valences().items())
    keys = HashSet(_hash_words([w for w, _ in words]))
    return keys, np.array([v for _, v in words], dtype=np.float32)


def _per_post_max(values: np.ndarray, row: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    if len(values):
        starts = np.flatnonzero(np.concatenate(([True], row[1:] != row[:-1])))
        out[row[starts]] = np.maximum.reduceat(values, starts)
    return out


def _lexicon_block(a: Analysis) -> np.ndarray:
    n, row = a.n, a.row
    keys, valences = _valence_table()
    at, word = keys.find(a.plain)
    v = np.zeros(len(a.plain), dtype=np.float32)
    v[at] = valences[word]
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
    1 / sqrt(the row's entries over every run of the block), so every row weighs the same
    whatever the post's length (a repeated n-gram counts once per occurrence)."""
    counts = [np.bincount(rows, minlength=n) for rows, _ in runs]
    scale = 1.0 / np.sqrt(np.maximum(sum(counts), 1).astype(np.float32))
    out = []
    for (rows, cols), count in zip(runs, counts, strict=True):
        indptr = np.concatenate(([0], np.cumsum(count)))
        out.append(
            sp.csr_matrix(
                (scale[rows], cols.astype(np.int32, copy=False), indptr), shape=(n, N_FEATURES)
            )
        )
    return out


def featurize(texts: Sequence[str], analysis: Analysis | None = None) -> Features:
    """The features of a batch of texts (``N_FEATURES`` columns, one row per text)."""
    a = analysis or analyse(texts)
    blocks = _blocks(_word_runs(a), a.n) + _blocks(_char_runs(a), a.n)
    return Features(a.n, tuple(blocks), _lexicon_block(a))
