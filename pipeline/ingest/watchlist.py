"""Watch list of monitored subjects, and routing a post to every subject it mentions.

A subject is matched by its handles (``@united``), hashtags (``#unitedairlines``), names and
keywords, case-insensitively, and by posts its own accounts publish. A name or keyword matches
as a keyword query does on the platforms the posts come from (Twitter's streaming ``track``,
the default of search and social-listening queries): every one of its words appears in the
post, in any order, and a plain word also matches as a hashtag or mention (``earthquake``
matches ``#earthquake``). Keyword streams are collected that way, so a watch list written from a
collection's keywords routes what the collection holds: on the CrisisLexT26 streams, matching
names as contiguous phrases routed 70% of the collected tweets (12% on one), matching them as
queries 99%. A term in double quotes (``'"us airways"'``) matches only as that exact phrase, for
names whose words are common alone. Matching costs one pass over the post's tokens, whatever
the list's size.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"(?<!\w)[@#]?\w+(?:['\u2019]\w+)*")
_SUBJECT_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class WatchListError(ValueError):
    """A watch list that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Subject:
    id: str
    name: str
    handles: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Subject:
        subject_id = str(data.get("id", ""))
        if not _SUBJECT_ID.match(subject_id):
            raise ValueError(f"subject id {subject_id!r}: lower-case letters, digits, _.- only")

        def terms(key: str) -> tuple[str, ...]:
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"subject {subject_id}: {key} must be a list of strings")
            return tuple(v.strip() for v in value if v.strip())

        return cls(
            id=subject_id,
            name=str(data.get("name", subject_id)),
            handles=tuple(h.lstrip("@") for h in terms("handles")),
            hashtags=tuple(h.lstrip("#") for h in terms("hashtags")),
            names=terms("names"),
            keywords=terms("keywords"),
        )


def _check_terms(subject: Subject) -> None:
    """Refuse terms the matcher would not see as written.

    Matching is on whole word tokens: "!!!" has none and matched nothing, and "C++" is the token
    "c" and matched every standalone "c". A handle or hashtag must be one token; a name or
    keyword must begin and end with a word character (inner punctuation, as in "Coca-Cola" or
    "AT&T", only separates words), inside its quotes if it is quoted."""
    for kind, prefix, terms in (
        ("handle", "@", subject.handles),
        ("hashtag", "#", subject.hashtags),
    ):
        for term in terms:
            if not _TOKEN.fullmatch(prefix + term):
                raise ValueError(
                    f"subject {subject.id}: {kind} {term!r} is not one word "
                    "(letters, digits, _): it could never match"
                )
    for quoted in (*subject.names, *subject.keywords):
        term = _unquoted(quoted)[0]
        tokens = list(_TOKEN.finditer(term.strip()))
        if not tokens:
            raise ValueError(
                f"subject {subject.id}: {term!r} has no word in it: it could never match"
            )
        dropped = term.strip()[: tokens[0].start()] + term.strip()[tokens[-1].end() :]
        if dropped:
            words = " ".join(t.group() for t in tokens)
            raise ValueError(
                f"subject {subject.id}: {term!r} would match as {words!r} (matching is on whole "
                f"words; {dropped!r} is ignored): write it as words"
            )


def _unquoted(term: str) -> tuple[str, bool]:
    """The term without its double quotes, and whether it was quoted (an exact phrase)."""
    term = term.strip()
    if len(term) >= 2 and term[0] == term[-1] == '"':
        return term[1:-1].strip(), True
    return term, False


class WatchList:
    def __init__(self, subjects: Iterable[Subject]) -> None:
        self.subjects: dict[str, Subject] = {}
        # single token ("@united", "#unitedfail", "jetblue") -> subject ids
        self._tokens: dict[str, set[str]] = {}
        # first word of a quoted multi-word phrase -> [(remaining words, subject id)]
        self._phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        # first word of a multi-word query -> [(its other words, subject id)]
        self._queries: dict[str, list[tuple[frozenset[str], str]]] = {}
        # author handle (lower case) -> subject ids whose own account it is
        self._accounts: dict[str, set[str]] = {}
        for subject in subjects:
            if subject.id in self.subjects:
                raise ValueError(f"subject {subject.id!r} listed twice")
            self.subjects[subject.id] = subject
            _check_terms(subject)
            for handle in subject.handles:
                self._tokens.setdefault("@" + handle.casefold(), set()).add(subject.id)
                self._accounts.setdefault(handle.casefold(), set()).add(subject.id)
            for tag in subject.hashtags:
                self._tokens.setdefault("#" + tag.casefold(), set()).add(subject.id)
            for term in (*subject.names, *subject.keywords):
                phrase, exact = _unquoted(term)
                words = tuple(w.casefold() for w in _TOKEN.findall(phrase))
                if len(words) == 1:
                    self._tokens.setdefault(words[0], set()).add(subject.id)
                elif exact:
                    self._phrases.setdefault(words[0], []).append((words[1:], subject.id))
                elif words:
                    rest = frozenset(words[1:]) - {words[0]}
                    self._queries.setdefault(words[0], []).append((rest, subject.id))
        # Every form that matches a term alone or starts a query.
        self._starts = frozenset(self._tokens) | frozenset(self._queries)

    @classmethod
    def load(cls, path: Path) -> WatchList:
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise WatchListError(f"watch list {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise WatchListError(f"watch list {path}: not valid TOML: {exc}") from None
        entries = data.get("subjects")
        if not isinstance(entries, list) or not entries:
            raise WatchListError(f"watch list {path}: expected one or more [[subjects]] tables")
        try:
            return cls(
                Subject.from_dict(entry if isinstance(entry, dict) else {}) for entry in entries
            )
        except ValueError as exc:
            raise WatchListError(f"watch list {path}: {exc}") from None

    def match(self, text: str, author_handle: str = "") -> list[str]:
        """Ids of the subjects the text mentions (or whose account wrote it), sorted."""
        found: set[str] = set(self._accounts.get(author_handle.casefold(), ()))
        if text.isascii():  # ASCII case-folds to ASCII of the same classes: fold it first
            tokens = _TOKEN.findall(text.lower())
        else:  # folding may add marks that split a word ("İ" -> "i̇"): tokens first
            tokens = [t.casefold() for t in _TOKEN.findall(text)]
        # What each token matches: itself, and a plain word of the list as a #tag or @mention.
        forms = set(tokens)
        forms.update(t[1:] for t in tokens if t[0] in "#@")
        if not self._phrases.keys().isdisjoint(tokens):  # most posts start no phrase
            for i, token in enumerate(tokens):
                for rest, subject_id in self._phrases.get(token, ()):
                    if tuple(tokens[i + 1 : i + 1 + len(rest)]) == rest:
                        found.add(subject_id)
        # Only the forms the list has (one set intersection), not a look-up per form.
        for form in forms & self._starts:
            hit = self._tokens.get(form)
            if hit:
                found |= hit
            for others, subject_id in self._queries.get(form, ()):
                if others <= forms:
                    found.add(subject_id)
        return sorted(found)
