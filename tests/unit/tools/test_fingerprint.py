from __future__ import annotations

from pipeline.tools.fingerprint import fingerprint, inputs


def test_fingerprints_are_reproducible_and_see_a_change_of_output() -> None:
    messages, watchlist = inputs()["crisislex"]()  # the real CrisisLexT26 sample
    first = fingerprint(messages, watchlist)
    assert first.posts == len(messages) and first.reports > 0 and first.alerts > 0
    again = fingerprint(messages, watchlist)
    assert (again.reports_sha256, again.alerts_sha256) == (
        first.reports_sha256,
        first.alerts_sha256,
    )
    # One post fewer: some report says so, and the fingerprint with it.
    fewer = fingerprint(messages[:200] + messages[201:], watchlist)
    assert fewer.reports_sha256 != first.reports_sha256
