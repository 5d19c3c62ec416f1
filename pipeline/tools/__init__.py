"""Command-line tools built on the models and the runtime: demo, produce, replay, simulate,
evaluate, report, bench, footprint, sentiment evaluation, the alert feed and its webhook."""
