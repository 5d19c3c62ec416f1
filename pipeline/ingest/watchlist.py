"""Watch list of monitored subjects, and routing a post to every subject it mentions.

A subject is matched by its handles (``@united``), hashtags (``#unitedairlines``), and names or
keywords as whole-word phrases (``united airlines``), case-insensitively, and by posts its own
accounts publish. Matching costs one pass over the post's tokens, whatever the list's size.
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
    "AT&T", only separates words)."""
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
    for term in (*subject.names, *subject.keywords):
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


class WatchList:
    def __init__(self, subjects: Iterable[Subject]) -> None:
        self.subjects: dict[str, Subject] = {}
        # single token ("@united", "#unitedfail", "jetblue") -> subject ids
        self._tokens: dict[str, set[str]] = {}
        # first word of a multi-word phrase -> [(remaining words, subject id)]
        self._phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
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
            for phrase in (*subject.names, *subject.keywords):
                words = tuple(w.casefold() for w in _TOKEN.findall(phrase))
                if len(words) == 1:
                    self._tokens.setdefault(words[0], set()).add(subject.id)
                elif words:
                    self._phrases.setdefault(words[0], []).append((words[1:], subject.id))

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
        tokens = [t.casefold() for t in _TOKEN.findall(text)]
        for i, token in enumerate(tokens):
            hit = self._tokens.get(token)
            if hit:
                found |= hit
            for rest, subject_id in self._phrases.get(token, ()):
                if tuple(tokens[i + 1 : i + 1 + len(rest)]) == rest:
                    found.add(subject_id)
        return sorted(found)
