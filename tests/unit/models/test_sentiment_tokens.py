from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.models.sentiment_tokens import TOKEN, codepoints, token_codepoints


def reference(text: str) -> np.ndarray:
    """What token_codepoints stands for: every token as a string, joined by spaces."""
    return codepoints(" ".join(TOKEN.findall(text)))


def same_as_reference(text: str) -> None:
    got = token_codepoints(text, codepoints(text))
    assert got.dtype == np.uint64
    assert got.tolist() == reference(text).tolist()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\x00",
        "\x00\x00a\x00",
        "plain words only",
        "<user> can't wait!!! #excited :) <url>",
        "re:dallas ::: :d :-) (: 8) <3333 </3 >:( ;p",
        "rock'n'roll 12'ab abc'de12 ''x",
        "##tag #-no # alone",
        "é😀\u3000x\u00a0y\tz\nw\u2028v",
        "lone \ud800 surrogate\x00\u200b\u202e rtl",
        "a" * 2000,
    ],
)
def test_tokens_are_the_regexs_tokens(text: str) -> None:
    same_as_reference(text)


_PIECES = [*"ab8dpo09#'!?.,;:<>=-*)(][}{/\\@|3 \x00\t\n\u3000\u00a0é😀", "<url>", "<user>"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40), st.text(max_size=40))
def test_any_text_tokenises_as_the_regex_does(pieces: list[str], text: str) -> None:
    same_as_reference("".join(pieces))
    same_as_reference(text)


def test_whitespace_is_what_the_regex_calls_whitespace() -> None:
    # token_codepoints classifies code points with a table of \s below U+3001.
    space = re.compile(r"\s")
    above = [c for c in range(0x3001, 0x110000) if space.match(chr(c))]
    assert above == []
    every = "".join(chr(c) for c in range(0x3001) if c not in range(0xD800, 0xE000))
    same_as_reference(every)
