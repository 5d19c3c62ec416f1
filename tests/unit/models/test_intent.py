from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pipeline.models.intent import INTENT_KINDS, intents, intents_many
from pipeline.models.sentiment_features import analyse


def stated(text: str) -> tuple[str, ...]:
    return intents(analyse([text]).tokens[0])


STATED = [
    ("@united I will never fly with you again!", ("boycott",)),
    ("@AmericanAir won't be flying with you guys ever again. 4 hrs on tarmac", ("boycott",)),
    ("#BoycottUnited they broke my guitar", ("boycott",)),
    ("I'm done with @SpiritAirlines, switching to @JetBlue", ("boycott", "switch")),
    ("@JetBlue cancel my credit card and my trueblue membership now", ("cancel",)),
    ("unsubscribing from your emails @Delta", ("cancel",)),
    ("next time I'll fly with another airline @USAirways", ("switch",)),
    ("Hello @Delta goodbye @united", ("switch",)),
    ("@united I want a full refund for this mess", ("refund",)),
    ("3 hours on hold, I want my money back @AmericanAir", ("refund",)),
    ("Going to sue @united for this", ("legal",)),
    ("filing a complaint with the DOT about @SpiritAirlines", ("legal",)),
    ("sign the petition: @united must pay for the guitar", ("protest",)),
    ("please share this, @united broke my guitar", ("share",)),
    ("everyone needs to know how @united treats musicians", ("share",)),
    ("Tell everybody: take your business elsewhere", ("share",)),
    ("we are done with you, taking you to court, legal action next", ("boycott", "legal")),
    ("last time we ever book with @Delta", ("boycott",)),
    ("stop flying @united, cut up my credit card", ("boycott", "cancel")),
    ("moving over to a competitor airline, close my loyalty account", ("cancel", "switch")),
    ("fly @JetBlue instead", ("switch",)),
    ("protest at the gate, share it widely", ("protest", "share")),
    ("give me our money back, small claims it is", ("refund", "legal")),
]


@pytest.mark.parametrize(("text", "kinds"), STATED)
def test_stated_intents_are_found(text: str, kinds: tuple[str, ...]) -> None:
    assert stated(text) == kinds


@pytest.mark.parametrize(
    "text",
    [
        "@united my flight was cancelled",  # something that happened, not what they will do
        "I would never boycott @SouthwestAir, they are great",  # negated
        "@USAirways don't cancel my flight please",
        "@SouthwestAir love you guys, never change",
        "@JetBlue is my favourite airline, flying with you again next week",
        "How do I get a refund receipt for my bag fee? @Delta",
        "@united what time does boarding start",
        "",
    ],
)
def test_no_intent_where_none_is_stated(text: str) -> None:
    assert stated(text) == ()


def test_kinds_come_in_a_fixed_order() -> None:
    text = "please share this: I want a refund and I will never fly @united again #boycott"
    assert stated(text) == ("boycott", "refund", "share")
    assert set(stated(text)) <= set(INTENT_KINDS)


AIRLINE = Path(__file__).resolve().parents[3] / "pipeline" / "data" / "airline_tweets_2015.csv"


def test_a_batch_finds_what_each_post_alone_finds() -> None:
    # intents_many reads as text only the posts its sieve lets through: it must miss none.
    with AIRLINE.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    hand = [
        "@united I will never fly with you again!",
        "#BoycottUnited!!! unsubscribing now",
        "Hello @Delta goodbye @united",
        "sign the petition",
        "I would never boycott @SouthwestAir",
        "",
    ]
    texts = hand + [text for text, _ in STATED] + texts
    analysis = analyse(texts)
    alone = [intents(tokens) for tokens in analysis.tokens]
    assert intents_many(analysis) == alone
    assert sum(1 for kinds in alone if kinds) > 100  # the airline tweets state many
