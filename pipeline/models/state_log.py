"""A big keyed state part written as a snapshot, then deltas of the entries that changed.

A subject's leaders state holds up to 1,000 authors (~130 KB of JSON); a batch with a few of
the subject's posts changes a few of them, yet writing the part meant writing all of them. Here
the part is written whole once (the *snapshot*, at the part's own table key), then, per batch,
as a *delta* of the entries touched and removed since (at ``<part>+<n>``, n = 0, 1, ...), with
the part's other fields whole. When the deltas' bytes would add up to more than
``DELTA_BYTES_PER_SNAPSHOT`` times the snapshot's, or ``MAX_DELTAS`` were written, the next
write is a snapshot again and the deltas before it are deleted: a part costs at most about 1.5
times what its changes cost, and a worker recovering it reads one snapshot and deltas of at
most twice its bytes.

The entries are an insertion-ordered dict whose order is state too (it decides evictions):
least recently touched first (leaders: a touch moves an entry to the end), or first in first
out (a recent-post map: new entries at the end, some changed where they stand). So a delta
lists the removed keys, the entries changed where they stand, and the touched entries at the
end of the dict in their order; applying it (remove, update in place, then move each of the
end's entries to the end with its value) gives back the same dict, order included.

Every snapshot starts a new generation (``gen``, kept in the state); a delta carries its
generation and number, and loading stops at the first slot that is missing or of another
generation (a deletion not yet recovered is then harmless).

The model notes what it touches and removes (a set add per change): nothing is serialised or
compared to find what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import takewhile
from typing import Any

import orjson

MAX_DELTAS = 16
#: A snapshot again once a generation's deltas would pass this many times its snapshot's bytes:
#: at full load a batch changes a third to a half of a part, and 1 would rewrite it whole every
#: second or third batch; 2 keeps what a recovering worker reads to at most 3 snapshots' worth.
DELTA_BYTES_PER_SNAPSHOT = 2


class ChangeNotes:
    """The keys a model touched and removed since its owner last took them, in the order first
    noted (dicts, not sets: a set's order follows the string hash, which differs from process
    to process, so the same stream wrote different delta bytes in each run). Bounded: past
    ``limit`` keys (more than a state holds, when nobody takes them, as in an offline run) it
    notes only that everything changed, and the part is then written whole."""

    __slots__ = ("everything", "limit", "removed", "touched")

    def __init__(self, limit: int) -> None:
        self.touched: dict[str, None] = {}
        self.removed: dict[str, None] = {}
        self.everything = False
        self.limit = limit

    # Several calls per post: the bound is checked inline, not by a call.
    def touch(self, key: str) -> None:
        if not self.everything:
            self.touched[key] = None
            if len(self.touched) + len(self.removed) > self.limit:
                self._bound()

    def remove(self, key: str) -> None:
        if not self.everything:
            self.removed[key] = None
            if len(self.touched) + len(self.removed) > self.limit:
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


class ListNotes:
    """What happened to a first-in-first-out list since its owner last took it: items appended
    at the end, items dropped from the front, or (``rewritten``) anything else."""

    __slots__ = ("appended", "dropped", "rewritten")

    def __init__(self) -> None:
        self.appended = self.dropped = 0
        self.rewritten = False

    def take(self, items: list[Any]) -> list[Any] | None:
        """[dropped, appended items] that turn the list as last taken into ``items``, or None
        if only the whole list does (then written whole); the notes are cleared."""
        appended, dropped, rewritten = self.appended, self.dropped, self.rewritten
        self.appended = self.dropped = 0
        self.rewritten = False
        # What stayed of the list as taken last time is items[:-appended], so it held that
        # many plus the dropped ones; appended ones dropped since would make this wrong.
        if rewritten or appended > len(items):
            return None
        return [dropped, items[len(items) - appended :]]


class OrderedLog:
    """What to write of one part: ``state[key]`` for each of ``entries_keys`` is an ordered
    dict of entries, logged by change; of the other fields, those in ``noted_fields`` go in a
    delta only when the model noted them changed, the rest always."""

    def __init__(
        self,
        state: dict[str, Any] | None,
        entries_keys: tuple[str, ...],
        noted_fields: tuple[str, ...] = (),
    ) -> None:
        self.entries_keys = entries_keys
        self.noted_fields = frozenset(noted_fields)
        #: A part never written (a new subject) is written whole first.
        self.snapshot_due = state is None
        #: This generation's deltas, their bytes, and its snapshot's bytes (0: not measured).
        self.deltas = int(state.get("deltas", 0)) if state else 0
        self.logged = int(state.get("logged", 0)) if state else 0
        self.size = int(state.get("size", 0)) if state else 0

    def take(
        self,
        part: str,
        state: dict[str, Any],
        notes: dict[str, ChangeNotes],
        changed_fields: set[str] | None = None,
        lists: dict[str, ListNotes] | None = None,
    ) -> dict[str, Any]:
        """{table key: value} to write for what changed since the last call: the entries the
        model noted it touched and removed since, per entries key, and the noted fields it
        changed (notes and fields are then cleared). A value of None deletes the key."""
        everything = any(notes[key].everything for key in self.entries_keys)
        delta: dict[str, Any] = {"gen": int(state.get("gen", 0)), "n": self.deltas}
        delta["fields"] = {
            k: v
            for k, v in state.items()
            if k not in self.entries_keys
            and (k not in self.noted_fields or (changed_fields and k in changed_fields))
        }
        delta["entries"] = {key: _changes(state[key], notes[key]) for key in self.entries_keys}
        # A noted list changed only at its ends: what was dropped and appended, else whole.
        delta["lists"] = {}
        for key, list_notes in (lists or {}).items():
            ends = list_notes.take(state[key])
            if key in delta["fields"]:
                continue  # noted changed otherwise: whole
            if ends is None:
                delta["fields"][key] = state[key]
            elif ends[0] or ends[1]:
                delta["lists"][key] = ends
        if changed_fields:
            changed_fields.clear()
        if not (self.snapshot_due or everything or self.deltas >= MAX_DELTAS):
            # Measured, not guessed (fields go whole in every delta that has them): once the
            # deltas add up to the snapshot's bytes, the next write is a snapshot.
            if not self.size:  # a state of the code before: measured once
                self.size = len(orjson.dumps(state))
            size = len(orjson.dumps(delta))
            if self.logged + size <= DELTA_BYTES_PER_SNAPSHOT * self.size:
                self.deltas += 1
                self.logged += size
                state["deltas"], state["logged"] = self.deltas, self.logged
                return {f"{part}+{delta['n']}": delta}
        # The last generation's deltas are deleted after the snapshot (None: a tombstone on the
        # changelog), so that compaction drops them; were the writes cut short between the two,
        # the new generation already ignores them.
        stale = [f"{part}+{n}" for n in range(self.deltas)]
        self.snapshot_due = False
        state["gen"] = int(state.get("gen", 0)) + 1
        state["deltas"] = self.deltas = 0
        state["logged"] = self.logged = 0
        state["size"] = 0
        state["size"] = self.size = len(orjson.dumps(state))
        return {part: state, **dict.fromkeys(stale)}


def _changes(entries: dict[str, Any], notes: ChangeNotes) -> list[list[Any]]:
    """[removed keys, [key, value] changed where they stand, [key, value] at the end in order]
    (the notes are cleared)."""
    removed = [k for k in notes.removed if k not in entries]
    # The touched entries at the end, in their order: new ones, and those a touch moved there;
    # the others were changed where they stand (a count in a recent-post map), listed in the
    # order first touched. A touched key no longer in ``entries`` was removed since.
    touched = notes.touched
    tail = list(takewhile(touched.__contains__, reversed(entries)))[::-1]
    at_end = set(tail)
    in_place = [[k, entries[k]] for k in touched if k not in at_end and k in entries]
    notes.clear()
    return [removed, in_place, [[k, entries[k]] for k in tail]]


def load(
    snapshot: dict[str, Any] | None,
    entries_keys: tuple[str, ...],
    get_delta: Callable[[int], Any],
) -> dict[str, Any] | None:
    """The part as last written: ``snapshot`` with its generation's deltas applied in order.
    ``get_delta(n)`` reads slot n (None if never written). A snapshot of before deltas existed
    (no ``gen``) is generation 0 and loads as it is."""
    if snapshot is None:
        return None
    gen = int(snapshot.get("gen", 0))
    applied = logged = 0
    for n in range(MAX_DELTAS):
        delta = get_delta(n)
        if delta is None or delta["gen"] != gen or delta["n"] != n:
            break
        for key in entries_keys:
            entries: dict[str, Any] = snapshot[key]
            removed, in_place, tail = delta["entries"][key]
            for k in removed:
                entries.pop(k, None)
            for k, value in in_place:
                entries[k] = value  # where it stands: it was changed there
            for k, value in tail:
                entries.pop(k, None)
                entries[k] = value
        for key, (dropped, appended) in delta.get("lists", {}).items():
            del snapshot[key][:dropped]
            snapshot[key].extend(appended)
        snapshot.update(delta["fields"])
        applied += 1
        logged += len(orjson.dumps(delta))
    snapshot["gen"], snapshot["deltas"], snapshot["logged"] = gen, applied, logged
    return snapshot
