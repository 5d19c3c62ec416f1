"""A big keyed state part written as a snapshot, then deltas of the entries that changed.

A subject's leaders state holds up to 1,000 authors (~130 KB of JSON); a batch with a few of
the subject's posts changes a few of them, yet writing the part meant writing all of them. Here
the part is written whole once (the *snapshot*, at the part's own table key), then, per batch,
as a *delta* of the entries touched and removed since (at ``<part>+<n>``, n = 0, 1, ...), with
the part's other fields whole. When the deltas' bytes would add up to more than the snapshot's,
or ``MAX_DELTAS`` were written, the next write is a snapshot again: a part costs at most about
twice what its changes cost, and a worker recovering it reads one snapshot and deltas of at most
as many bytes (plus, until written over, an older generation's: at most as many again).

The entries are an insertion-ordered dict whose order is state too (it decides evictions):
least recently touched first (leaders: a touch moves an entry to the end), or first in first
out (a recent-post map: new entries at the end, some changed where they stand). So a delta
lists the removed keys, the entries changed where they stand, and the touched entries at the
end of the dict in their order; applying it (remove, update in place, then move each of the
end's entries to the end with its value) gives back the same dict, order included.

Every snapshot starts a new generation (``gen``, kept in the state); a delta carries its
generation and number, and loading stops at the first slot that is missing or of another
generation: slots of an older generation are simply written over later, never deleted.

The model notes what it touches and removes (a set add per change): nothing is serialised or
compared to find what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import takewhile
from typing import Any

import orjson

MAX_DELTAS = 16


class ChangeNotes:
    """The keys a model touched and removed since its owner last took them. Bounded: past
    ``limit`` keys (more than a state holds, when nobody takes them, as in an offline run) it
    notes only that everything changed, and the part is then written whole."""

    __slots__ = ("everything", "limit", "removed", "touched")

    def __init__(self, limit: int) -> None:
        self.touched: set[str] = set()
        self.removed: set[str] = set()
        self.everything = False
        self.limit = limit

    def touch(self, key: str) -> None:
        if not self.everything:
            self.touched.add(key)
            self._bound()

    def remove(self, key: str) -> None:
        if not self.everything:
            self.removed.add(key)
            self._bound()

    def _bound(self) -> None:
        if len(self.touched) + len(self.removed) > self.limit:
            self.touched.clear()
            self.removed.clear()
            self.everything = True

    def clear(self) -> None:
        self.touched.clear()
        self.removed.clear()
        self.everything = False


class OrderedLog:
    """What to write of one part: ``state[entries_key]`` is the ordered dict of entries."""

    def __init__(self, state: dict[str, Any] | None, entries_key: str) -> None:
        self.entries_key = entries_key
        #: A part never written (a new subject) is written whole first.
        self.snapshot_due = state is None
        #: This generation's deltas, their bytes, and its snapshot's bytes (0: not measured).
        self.deltas = int(state.get("deltas", 0)) if state else 0
        self.logged = int(state.get("logged", 0)) if state else 0
        self.size = int(state.get("size", 0)) if state else 0

    def take(self, part: str, state: dict[str, Any], notes: ChangeNotes) -> dict[str, Any]:
        """{table key: value} to write for what changed since the last call: the entries the
        model noted it touched and removed since (the notes are then cleared)."""
        entries: dict[str, Any] = state[self.entries_key]
        touched = {k for k in notes.touched if k in entries}
        removed = [k for k in notes.removed if k not in entries]
        everything = notes.everything
        notes.clear()
        if not (self.snapshot_due or everything or self.deltas >= MAX_DELTAS):
            # The touched entries at the end, in their order: new ones, and those a touch
            # moved there; the others were changed where they stand (a recent-post map's).
            tail = list(takewhile(touched.__contains__, reversed(entries)))[::-1]
            delta = {
                "gen": int(state.get("gen", 0)),
                "n": self.deltas,
                "fields": {k: v for k, v in state.items() if k != self.entries_key},
                "remove": removed,
                "update": [[k, entries[k]] for k in touched.difference(tail)],
                "upsert": [[k, entries[k]] for k in tail],
            }
            # Measured, not guessed (the fields besides the entries go whole in every delta):
            # once the deltas add up to the snapshot's bytes, the next write is a snapshot.
            if not self.size:  # a state of the code before: measured once
                self.size = len(orjson.dumps(state))
            size = len(orjson.dumps(delta))
            if self.logged + size <= self.size:
                self.deltas += 1
                self.logged += size
                state["deltas"], state["logged"] = self.deltas, self.logged
                return {f"{part}+{delta['n']}": delta}
        self.snapshot_due = False
        state["gen"] = int(state.get("gen", 0)) + 1
        state["deltas"] = self.deltas = 0
        state["logged"] = self.logged = 0
        state["size"] = 0
        state["size"] = self.size = len(orjson.dumps(state))
        return {part: state}


def load(
    snapshot: dict[str, Any] | None, entries_key: str, get_delta: Callable[[int], Any]
) -> dict[str, Any] | None:
    """The part as last written: ``snapshot`` with its generation's deltas applied in order.
    ``get_delta(n)`` reads slot n (None if never written). A snapshot of before deltas existed
    (no ``gen``) is generation 0 and loads as it is."""
    if snapshot is None:
        return None
    gen = int(snapshot.get("gen", 0))
    entries: dict[str, Any] = snapshot[entries_key]
    applied = logged = 0
    for n in range(MAX_DELTAS):
        delta = get_delta(n)
        if delta is None or delta["gen"] != gen or delta["n"] != n:
            break
        for key in delta["remove"]:
            entries.pop(key, None)
        for key, value in delta.get("update", ()):
            entries[key] = value  # where it stands: it was changed there
        for key, value in delta["upsert"]:
            entries.pop(key, None)
            entries[key] = value
        snapshot.update(delta["fields"])
        applied += 1
        logged += len(orjson.dumps(delta))
    snapshot["gen"], snapshot["deltas"], snapshot["logged"] = gen, applied, logged
    return snapshot
