"""CPython's cyclic garbage collector, tuned for a process that holds a large, long-lived heap.

A worker imports faust, aiokafka, river, scipy and numpy (hundreds of thousands of objects that
live as long as the process) and then keeps every subject's models: stories, authors and
buckets, millions of small dicts and lists. CPython's collector traverses all of them in each
full collection: on the bench's dense stream, 9 full collections of up to 145 ms each in 20 s
(5% of the worker's CPU, and the slowest of its produce-to-alert latencies).

``tune`` freezes what exists when it is called (``gc.freeze``: the imported modules, moved out
of every later collection; objects still free by reference count as before) and collects the
youngest generation every ``threshold`` allocations instead of 700, so the survivors are
promoted and traversed less often. Nothing created later is frozen: garbage with cycles is still
found as before.
"""

from __future__ import annotations

import gc


def tune(threshold: int) -> None:
    """Freeze the heap as it is now (call it once, after the imports) and set the youngest
    generation's threshold (0 keeps CPython's)."""
    gc.collect()  # what the imports left behind goes now, not frozen for the process's life
    gc.freeze()
    if threshold:
        _, middle, oldest = gc.get_threshold()
        gc.set_threshold(threshold, middle, oldest)
