"""Intent to act: does a post state that its author will act against the subject?

Step 3 of the crisis playbook asks not only how attitudes moved but "what will they do?". This
is a pattern lexicon over the same tokens the sentiment model reads (sentiment_features.tokens):
lower-cased, handles as ``<user>``, links as ``<url>``, and negation scope marked, so every word
after "not", "never", "n't" ... up to the clause's end carries a ``_neg`` suffix. A pattern names
the plain word ("boycott"), so a negated one ("i would never boycott", "don't cancel my
subscription") does not match; the patterns whose meaning is itself a negation ("never flying
with you again", "won't be using them anymore") name the negated form on purpose.

Kinds: ``boycott`` (stop using / buying, "never again"), ``cancel`` (cancel or close an account,
subscription, card; unsubscribe, uninstall), ``switch`` (to a competitor), ``refund`` (demand
money back, compensation), ``legal`` (sue, lawyer, class action, complaint to a regulator),
``protest`` (petition, protest, march), ``share`` (tell everyone, spread the word, make it viral).

Known limits: a question ("should I boycott?") or a report of others' intent ("people are
boycotting") counts; irony does not register. "my flight was cancelled" is not ``cancel``:
that kind needs the author's own cancelling of something they hold ("cancel my card").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import numpy as np

from pipeline.models.sentiment_features import Analysis, token_keys
from pipeline.models.token_hash import HashSet

INTENT_KINDS = ("boycott", "cancel", "switch", "refund", "legal", "protest", "share")

# Up to n arbitrary tokens between two parts of a pattern (bounded: no runaway backtracking).
_GAP2 = r"(?:\S+ ){0,2}"
_GAP3 = r"(?:\S+ ){0,3}"
_GAP5 = r"(?:\S+ ){0,5}"
_USE_TEXT = (
    "fly flying flew use using buy buying book booking shop shopping order ordering eat eating "
    "stay staying bank banking travel traveling travelling choose choosing recommend "
    "recommending support supporting"
)
_USE_WORDS = tuple(_USE_TEXT.split())
_USE = "(?:" + "|".join(_USE_WORDS) + ")"
_HOLD = r"(?:account|subscription|subscriptions|membership|memberships|card|credit card|plan|service|contract|policy|order|orders|miles|mileage|loyalty|rewards|pre-order|preorder|insurance)"  # noqa: E501
# A competitor: another airline, bank... (not "a different flight", which is a rebooking).
_OTHER = (
    r"(?:another|other|a different|different|a better|a real|your competitor|competitors"
    r"|the competition|a competitor)(?: (?:airline|airlines|carrier|carriers|company|companies"
    r"|provider|providers|bank|banks|brand|brands|network|insurer))"
)

_VERBS_SWITCH = (
    "switch switching switched move moving moved go going went change changing jump jumping "
    "defect defecting"
)
_CANCEL_VERBS = (
    "cancel cancelling canceling cancelled canceled close closing closed delete deleting "
    "terminate terminating end ending"
)
_REGULATORS = (
    "dot faa ftc fcc cfpb bbb bureau transportation general ombudsman regulator authorities "
    "protection"
)
_PROTEST_WORDS = "protest protesting march marching rally rallying picket picketing walkout"
_MONEY_WORDS = "refund refunds reimbursement compensation compensated reimbursed"

# (kind, required, pattern): the pattern is searched in a post's tokens (joined by spaces) only
# when the post has one of the required tokens, rare words each match needs, so most posts cost
# one set intersection.
_SPECS: tuple[tuple[str, str, str], ...] = (
    (
        "boycott",
        "again_neg anymore_neg ever_neg",
        r"(?:never|won't|wont|not|will not) "
        + _GAP3
        + _USE
        + r"_neg "
        + _GAP5
        + r"(?:again_neg|anymore_neg|ever_neg)"
        + r"|never (?:\S+_neg ){0,2}(?:again_neg|anymore_neg)",
    ),
    (
        "boycott",
        "stop stopped stopping quit quitting",
        r"(?:stop|stopped|stopping|quit|quitting) " + _USE,
    ),
    ("boycott", "last", r"last time (?:i|we) (?:ever )?" + _USE),
    ("boycott", "done", r"(?:i'm|im|i am|we're|we are) (?:so |officially |totally )?done with"),
    ("boycott", "elsewhere", r"take (?:my|our) (?:business|money|custom) elsewhere"),
    ("boycott", "customer", r"lost (?:a|me as a|another) (?:customer|loyal customer)"),
    (
        "cancel",
        _CANCEL_VERBS,
        "(?:" + _CANCEL_VERBS.replace(" ", "|") + r") (?:my|our) " + _GAP2 + _HOLD,
    ),
    ("cancel", "app", r"(?:delete|deleting|deleted) (?:the|your|this) app"),
    ("cancel", "cut", r"cut up (?:my|our) (?:card|credit card)"),
    (
        "switch",
        _VERBS_SWITCH,
        "(?:"
        + _VERBS_SWITCH.replace(" ", "|")
        + r") (?:over )?(?:to|back to) (?:<user>|"
        + _OTHER
        + ")",
    ),
    (
        "switch",
        "airlines carriers providers banks companies brands phones networks insurers",
        r"(?:switch|switching|change|changing) (?:airlines|carriers|providers|banks|companies"
        r"|brands|phones|networks|insurers)",
    ),
    (
        "switch",
        "instead now next",
        _USE + r" (?:with )?(?:<user>|" + _OTHER + r") (?:from now on|instead|next time)"
        r"|(?:from now on|next time) (?:i'll|ill|i will|we'll|we will|i'm|im) "
        + _GAP2
        + _USE
        + r" (?:with )?(?:<user>|"
        + _OTHER
        + ")",
    ),
    (
        "switch",
        "goodbye bye",
        r"(?:hello|welcome|hi) <user> (?:goodbye|bye) <user>"
        r"|(?:goodbye|bye|so long) <user> (?:hello|welcome|hi) <user>",
    ),
    (
        "refund",
        _MONEY_WORDS,
        r"(?:want|wants|demand|demanding|demanded|need|deserve|expect|expecting|requesting"
        r"|request|requested|give me|get|getting|where's|where is|owe me|owe us) "
        + _GAP2
        + "(?:"
        + _MONEY_WORDS.replace(" ", "|")
        # "a refund receipt", "the refund policy": about refunds, not a demand for one.
        + ")(?! (?:receipt|policy|status|form|number|process))|refund (?:me|us|my|our)",
    ),
    ("refund", "money", r"(?:my|our|the) money back"),
    (
        "refund",
        "chargeback charge dispute disputing",
        r"chargeback|charge back|disput\S* the charge",
    ),
    ("legal", "sue suing sued lawsuit lawsuits", r"sue|suing|sued|lawsuits?"),
    (
        "legal",
        "lawyer lawyers attorney attorneys solicitor solicitors",
        r"(?:my|a|our) (?:lawyer|lawyers|attorney|attorneys|solicitor|solicitors)",
    ),
    (
        "legal",
        "legal class claims court",
        r"legal action|class action|small claims|(?:take|taking) you to court"
        r"|see you in court|legal team",
    ),
    (
        "legal",
        _REGULATORS,
        r"(?:complaint|complain|complaining|report|reporting) (?:this |you |them )?(?:to|with) "
        r"(?:the )?(?:dot|faa|ftc|fcc|cfpb|bbb|better business bureau"
        r"|department of transportation|attorney general|ombudsman|regulator|authorities"
        r"|consumer protection)",
    ),
    (
        "protest",
        _PROTEST_WORDS,
        "(?:" + _PROTEST_WORDS.replace(" ", "|") + r") (?:at|outside|in front of|against)",
    ),
    ("protest", "#protest #protesting", r"#protest|#protesting"),
    (
        "share",
        "share retweet rt repost spread",
        r"(?:share|retweet|rt|repost|spread) (?:this|it|the word|widely|everywhere|far and wide)",
    ),
    (
        "share",
        "tell telling warn warning",
        r"(?:tell|telling|warn|warning) (?:everyone|everybody|all my|every|all of my|my friends"
        r"|my followers|people|others|the world)",
    ),
    ("share", "viral", r"(?:make|making|let's make|lets make) (?:this|it) (?:go )?viral"),
    (
        "share",
        "everyone everybody world people",
        r"(?:everyone|everybody|the world|people) (?:needs|need|should|deserves|has) to "
        r"(?:know|see|hear)",
    ),
)
# Words whose every form counts (#boycottunited, unsubscribing, petitions): checked as stems.
_STEMS: dict[str, str] = {
    "boycott": "boycott",
    "unsubscrib": "cancel",
    "uninstall": "cancel",
    "petition": "protest",
}
# A whole token (not a negated one: "boycott_neg" has no intent) that starts with a stem.
_STEM = re.compile(r"(?<![^ ])#?(" + "|".join(_STEMS) + r")[a-z]*(?![^ ])")

_ANY_STEM = re.compile("|".join(_STEMS))

# Per required token, (kind, pattern, anchored): an anchored pattern starts with its required
# tokens, so it is tried only where one of them stands (re.match at that token), not searched
# along the whole post.
_BY_TOKEN: dict[str, list[tuple[str, re.Pattern[str], bool]]] = {}
for _kind, _required, _pattern in _SPECS:
    _anchored = _pattern.startswith("(?:" + _required.replace(" ", "|") + ")")
    # Whole tokens only: a match starts and ends at a token boundary.
    _compiled = re.compile(("" if _anchored else "(?<![^ ])") + f"(?:{_pattern})(?![^ ])")
    for _token in _required.split():
        _BY_TOKEN.setdefault(_token, []).append((_kind, _compiled, _anchored))
_REQUIRED = frozenset(_BY_TOKEN)


def _match_at(pattern: re.Pattern[str], text: str, token: str) -> bool:
    """Does ``pattern`` match at one of the places where ``token`` stands as a whole token?"""
    at = text.find(token)
    while at >= 0:
        if (at == 0 or text[at - 1] == " ") and pattern.match(text, at):
            return True
        at = text.find(token, at + 1)
    return False


def intents(tokens: Sequence[str]) -> tuple[str, ...]:
    """The kinds of intent to act stated by a post (its tokens as sentiment_features.analyse
    gives them), in INTENT_KINDS order; empty when none. Most posts cost a set intersection."""
    hits = _REQUIRED.intersection(tokens)
    text = " ".join(tokens)
    stems = _ANY_STEM.search(text) is not None
    if not hits and not stems:
        return ()
    found: set[str] = set()
    for token in hits:
        for kind, pattern, anchored in _BY_TOKEN[token]:
            if kind not in found and (
                _match_at(pattern, text, token) if anchored else pattern.search(text)
            ):
                found.add(kind)
    if stems:
        found.update(_STEMS[m.group(1)] for m in _STEM.finditer(text))
    return tuple(kind for kind in INTENT_KINDS if kind in found)


# Other tokens a spec's pattern cannot match without, per spec (by its required tokens): groups
# of words, one of each group must stand in the post as a token. Only for specs whose required
# tokens are common words ("go", "now", "people"...), so that a batch reads few posts as text.
# Each word is a whole token of every way the pattern can match (see the pattern).
_USER_OR_NOUN = (
    "<user> airline airlines carrier carriers company companies provider providers bank banks "
    "brand brands network insurer"
)
_HOLD_LAST_WORDS = (
    "account subscription subscriptions membership memberships card plan service contract policy "
    "order orders miles mileage loyalty rewards preorder insurance"
)
_NEEDS: dict[str, tuple[str, ...]] = {
    _VERBS_SWITCH: ("to", _USER_OR_NOUN),
    "instead now next": (_USE_TEXT, _USER_OR_NOUN),
    "stop stopped stopping quit quitting": (_USE_TEXT,),
    "last": ("time", "i we"),
    "done": ("with", "i'm im i we're we"),
    _CANCEL_VERBS: ("my our", _HOLD_LAST_WORDS),
    "cut": ("up", "my our", "card"),
    "money": ("back", "my our the"),
    "legal class claims court": ("action small you team",),
    _PROTEST_WORDS: ("at outside in against",),
    "share retweet rt repost spread": ("this it word widely everywhere far",),
    "tell telling warn warning": ("everyone everybody all every my people others world",),
    "everyone everybody world people": ("needs need should deserves has", "to", "know see hear"),
}


@cache
def _sieve() -> tuple[HashSet, list[list[np.ndarray]]]:
    """The hashes of every word the sieve looks for, and per spec its groups of them (as
    indices): the required tokens first, then its _NEEDS."""
    specs = {required: (required, *_NEEDS.get(required, ())) for _, required, _ in _SPECS}
    vocabulary = sorted({word for groups in specs.values() for g in groups for word in g.split()})
    # None of these words has a run of four equal characters (token_keys' condition).
    index = {word: i for i, word in enumerate(vocabulary)}
    groups = [
        [np.array([index[word] for word in g.split()]) for g in spec] for spec in specs.values()
    ]
    return HashSet(token_keys(vocabulary)), groups


def intents_many(analysis: Analysis) -> list[tuple[str, ...]]:
    """``intents`` of every post of an analysed batch. The batch is sifted at once: a post can
    state an intent only if, for some pattern, its tokens (by hash) hold one of the pattern's
    required tokens and one of each group it needs, or its text holds a stem; only those few
    posts are read as text. The sieve only lets through: a hash collision costs a look, never a
    miss."""
    a = analysis
    out: list[tuple[str, ...]] = [()] * a.n
    keys, specs = _sieve()
    at, word = keys.find(a.hashes)
    rows, row_of = np.unique(a.row[at], return_inverse=True)
    present = np.zeros((len(rows), len(keys.keys)), dtype=bool)
    present[row_of, word] = True
    possible = np.zeros(len(rows), dtype=bool)
    for groups in specs:
        holds = present[:, groups[0]].any(axis=1)
        for group in groups[1:]:
            holds &= present[:, group].any(axis=1)
        possible |= holds
    stems = []  # where a stem stands (str.find: a regex over the batch's text cost 3x more)
    for stem in _STEMS:
        where = a.normalised.find(stem)
        while where >= 0:
            stems.append(where)
            where = a.normalised.find(stem, where + 1)
    stem_rows = np.searchsorted(a.normalised_seps, np.array(stems, dtype=np.int64))
    candidates = np.union1d(rows[possible], stem_rows).tolist()
    for i, tokens in zip(candidates, a.tokens_of(candidates), strict=True):
        out[i] = intents(tokens)
    return out
