"""Consumer lag of this worker's source topics, for the growing-lag and stalled alerts.

Every few seconds: for each assigned partition of posts.raw, posts and signals, the end offset
the consumer last saw minus the offset the stream last read, summed per topic. The read offset
is faust's own record of what the agents consumed (a private field: the public position is the
fetch position, which runs ahead of processing by a whole buffer).
"""

from __future__ import annotations

from collections import defaultdict

from pipeline.runtime import metrics
from pipeline.runtime.app import app, names

LAG_INTERVAL_SECONDS = 5.0
_logical = {
    names.posts_raw: "posts.raw",
    names.posts: "posts",
    names.signals: "signals",
}


@app.timer(interval=LAG_INTERVAL_SECONDS)
async def measure_consumer_lag() -> None:
    consumer = app.consumer
    read_offsets = getattr(consumer, "_read_offset", {})  # see the module docstring
    lag: dict[str, int] = defaultdict(int)
    for tp in consumer.assignment():
        topic = _logical.get(tp.topic)
        if topic is None:
            continue
        end = consumer.highwater(tp)
        read = read_offsets.get(tp)
        # Nothing read yet since the assignment: the fetch position is the best we know.
        next_offset = read + 1 if read is not None else await consumer.position(tp)
        if end is not None and next_offset is not None:
            lag[topic] += max(0, end - next_offset)
    for topic in metrics.SOURCE_TOPICS:
        metrics.CONSUMER_LAG.labels(topic=topic).set(lag.get(topic, 0))
