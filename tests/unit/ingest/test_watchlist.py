from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest.watchlist import Subject, WatchList
from pipeline.runtime.settings import PACKAGE_DATA

WATCH = WatchList(
    [
        Subject(
            "united",
            "United",
            handles=("united",),
            hashtags=("unitedfail",),
            names=("United Airlines",),
        ),
        Subject("acme", "Acme", handles=("AcmeCorp",), keywords=("acme rocket skates", "acme")),
    ]
)


@pytest.mark.parametrize(
    ("text", "author", "expected"),
    [
        ("@united lost my bag", "", ["united"]),
        ("@UNITED lost my bag", "", ["united"]),
        ("thanks @united!", "", ["united"]),
        ("@unitedfan club", "", []),  # a handle is a whole token, not a prefix
        ("email me at bob@united.com", "", []),
        ("#UnitedFail again", "", ["united"]),
        ("flew United Airlines today", "", ["united"]),
        ("flew united to Denver", "", []),  # a bare word is not the name
        ("united airlines", "", ["united"]),
        ("my ACME rocket skates broke", "", ["acme"]),
        ("acme", "", ["acme"]),
        ("@united and @AcmeCorp both", "", ["acme", "united"]),
        ("we are sorry for the delay", "AcmeCorp", ["acme"]),  # the brand's own account
        ("", "", []),
    ],
)
def test_match(text: str, author: str, expected: list[str]) -> None:
    assert WATCH.match(text, author) == expected


def test_packaged_watchlist_covers_the_airlines() -> None:
    watch = WatchList.load(PACKAGE_DATA / "watchlist.toml")
    assert set(watch.subjects) == {
        "united",
        "usairways",
        "american",
        "southwest",
        "delta",
        "jetblue",
        "virginamerica",
    }
    assert watch.match("@AmericanAir @USAirways merger mess") == ["american", "usairways"]


def test_load_rejects_bad_lists(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('[[subjects]]\nid = "Bad Id"\n')
    with pytest.raises(ValueError, match="subject id"):
        WatchList.load(path)
    path.write_text('[[subjects]]\nid = "a"\nhandles = "notalist"\n')
    with pytest.raises(ValueError, match="list of strings"):
        WatchList.load(path)
    path.write_text('[[subjects]]\nid = "a"\n[[subjects]]\nid = "a"\n')
    with pytest.raises(ValueError, match="twice"):
        WatchList.load(path)
    path.write_text("title = 'none'\n")
    with pytest.raises(ValueError, match="subjects"):
        WatchList.load(path)
