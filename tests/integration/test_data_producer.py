from __future__ import annotations

import orjson

from pipeline.runtime.data_producer import DataProducer
from pipeline.runtime.kafka import ensure_topics, make_producer, topic_names
from pipeline.runtime.settings import Settings
from tests.integration.helpers import read_to_end


async def test_batched_sends_land_where_send_would_put_them_in_order(settings: Settings) -> None:
    """send_all builds its own batches: each record must land on the partition aiokafka's
    send picks for its key, in order per key, with nothing lost, across several batches of a
    partition and with a record larger than a batch among them."""
    names = topic_names(settings)
    topics = (names.posts, names.signals)  # two partitions each
    await ensure_topics(settings, topics)
    keys = [f"subject-{k}".encode() for k in range(7)]
    records = [
        (topics[i % 2], keys[i % 7], orjson.dumps({"i": i, "pad": "x" * 300})) for i in range(3_000)
    ]  # ~1 MB: several 256 KB batches per partition
    records.insert(1_500, (names.posts, keys[0], orjson.dumps({"i": -1, "pad": "y" * 300_000})))
    producer = DataProducer(settings)
    await producer.start()
    try:
        assert await producer.send_all(records) == len(records)
    finally:
        await producer.stop()

    plain = make_producer(settings)
    await plain.start()
    try:  # where send puts each key (probes, told apart from the records by their value)
        expected = {
            (topic, key): (await (await plain.send(topic, b"probe", key))).partition
            for topic in topics
            for key in keys
        }
    finally:
        await plain.stop()
    assert len(set(expected.values())) == 2  # the keys do spread over both partitions

    for topic in topics:
        landed = [r for r in await read_to_end(settings, topic) if r.value != b"probe"]
        sent = [(key, orjson.loads(value)["i"]) for t, key, value in records if t == topic]
        assert sorted(r.key for r in landed) == sorted(key for key, _ in sent)
        for record in landed:
            assert record.partition == expected[topic, record.key]
        for key in keys:
            order = [orjson.loads(r.value)["i"] for r in landed if r.key == key]
            assert order == [i for k, i in sent if k == key]
