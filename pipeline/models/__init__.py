"""Pure online model code, river style (learn_one / score_one), plain Python on dicts.

Nothing here imports faust, aiokafka or the Kafka runtime (tests/unit/test_layering.py checks),
so every model is tested directly and fast, and the same code runs in a worker, in a replay and
in process (pipeline/tools/offline.py).
"""
