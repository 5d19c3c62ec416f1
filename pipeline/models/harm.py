"""Harm: does a post report harm to people, property or service?

A crisis is something that hurts: people killed or injured, a crash, fire, explosion, collapse,
attack, natural disaster, evacuation, or for a company an outage, breach, leak, recall or
contamination. Posts about one say so in a few hundred common words, while ordinary posts about
a subject rarely do: on the 14,640 airline tweets (complaints included) 1.2% of posts use one of
these words, on 20,000 general SemEval tweets 3.2%, on the CrisisLexT26 tweets labelled "related
and informative" 57% (and 23% of those labelled "not related", collected by the same disaster
keywords). So the share of a subject's posts reporting harm is evidence that needs no history
of the subject's own: against the usual share of posts in general until the subject's own
baseline is warm, and against that baseline afterwards (a subject whose ordinary talk is of harm,
a fire brigade, learns it).

The lexicon reads the same tokens as the sentiment model (sentiment_features.analyse):
lower-cased, with negation scope marked by a ``_neg`` suffix, so "no injuries reported" and
"nobody was hurt" do not count; a hashtag counts as its word ("#earthquake").

Known limits: figurative use counts ("my phone died", "this song is fire", "killing it"); the
lexicon is English only; a report that someone else caused harm to the subject's customers counts
as harm, which is the point.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from pipeline.models.sentiment_features import Analysis, token_keys
from pipeline.models.token_hash import HashSet

#: The share of posts in general that report harm: the reference until a subject's own baseline
#: is warm. 0.05 is above the general tweets' 3.2% and the airline tweets' 1.2%.
GENERAL_SHARE = 0.05

_PEOPLE = """
dead death deaths died dies dying kill killed killing kills fatal fatalities fatality casualties
casualty injured injuries injury injuring wounded hurt victims victim bodies
"""
_EVENTS = """
explosion explosions exploded explode blast blasts bomb bombs bombing bombings bombed detonated
fire fires blaze ablaze burning burned burnt wildfire wildfires bushfire bushfires
crash crashes crashed collision collided derailed derailment derail wreck wreckage
collapse collapsed collapses rubble trapped
shooting shootings shooter shooters gunman gunmen gunfire stabbing hostage hostages siege
attack attacked attacks terror terrorist terrorists terrorism
earthquake earthquakes quake quakes tremor tremors aftershock aftershocks tsunami
flood floods flooding flooded floodwaters landslide landslides mudslide typhoon hurricane
cyclone tornado
evacuate evacuated evacuation evacuations evacuating emergency emergencies rescue rescued
rescuers
disaster disasters catastrophe tragedy tragic devastation devastated destroyed damage damaged
"""
_SERVICE = """
outage outages breach breached leak leaked hacked recall recalled contaminated contamination
poisoning toxic spill
"""
HARM_WORDS = frozenset((_PEOPLE + _EVENTS + _SERVICE).split())
# The words and their hashtags: one set intersection per post (C speed, ~0.3 us).
_HARM_TOKENS = HARM_WORDS | {"#" + word for word in HARM_WORDS}


def reports_harm(tokens: Sequence[str]) -> bool:
    """Whether a post's tokens (sentiment_features.analyse) report harm; negated words do not."""
    return not _HARM_TOKENS.isdisjoint(tokens)


@cache
def _harm_keys() -> HashSet:
    # A token reports harm as the word or as its hashtag; no harm word has a run of four equal
    # characters (token_keys' condition).
    words = sorted(HARM_WORDS)
    return HashSet(token_keys(words + ["#" + word for word in words]))


def harm_many(analysis: Analysis) -> list[bool]:
    """``reports_harm`` of every post of an analysed batch: only the posts with a token whose
    hash is a harm word's (or its hashtag's; a negated token has another hash) are read as
    text, to check (a hash collision costs a look, never a wrong answer)."""
    out = [False] * analysis.n
    candidates = np.unique(analysis.row[_harm_keys().find(analysis.hashes)[0]]).tolist()
    for i, tokens in zip(candidates, analysis.tokens_of(candidates), strict=True):
        out[i] = reports_harm(tokens)
    return out
