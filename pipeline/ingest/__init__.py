"""Ingest rules: validation of raw posts, routing to the watch list's subjects, the watch list.

Pure Python like the models: the ingest agent calls these, and so do the in-process tools.
"""
