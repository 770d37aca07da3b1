"""Natural-language templates per ConceptNet relation, for the three question formats.

``{ref}`` is a referring expression for a pictured object ("the object on the left"); ``{a}`` is a
concept with its indefinite article ("an apple"), ``{A}`` the same capitalised. A relation without an
entry here produces no questions (the KG may hold more relations than the benchmark asks about).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelationTemplate:
    """How to ask about one relation.

    Attributes:
        vqa: question about a pictured object, or ``None`` when the relation's objects are usually
            visible in the picture (``HasA`` parts), which would not need knowledge.
        mc: CommonsenseQA-style question stem about a concept.
        cloze: LAMA-style sentence with ``[MASK]`` in place of the object.
        description: what the relation means (used as the OK-VQA ``question_types`` entry).
    """

    vqa: str | None
    mc: str
    cloze: str
    description: str


TEMPLATES: dict[str, RelationTemplate] = {
    "IsA": RelationTemplate(
        "What kind of thing is {ref}?",
        "{A} is a kind of what?",
        "{A} is a kind of [MASK].",
        "category (IsA)",
    ),
    "UsedFor": RelationTemplate(
        "What is {ref} used for?",
        "What is {a} used for?",
        "{A} is used for [MASK].",
        "purpose (UsedFor)",
    ),
    "AtLocation": RelationTemplate(
        "Where would you usually find {ref}?",
        "Where would you usually find {a}?",
        "You are likely to find {a} in a [MASK].",
        "location (AtLocation)",
    ),
    "MadeOf": RelationTemplate(
        "What is {ref} made of?",
        "What is {a} made of?",
        "{A} is made of [MASK].",
        "material (MadeOf)",
    ),
    "PartOf": RelationTemplate(
        "What is {ref} a part of?",
        "{A} is part of what?",
        "{A} is part of a [MASK].",
        "whole (PartOf)",
    ),
    "HasA": RelationTemplate(None, "What does {a} have?", "{A} has a [MASK].", "part or possession (HasA)"),
    "CapableOf": RelationTemplate(
        "What can {ref} do?",
        "What can {a} do?",
        "{A} can [MASK].",
        "ability (CapableOf)",
    ),
    "HasProperty": RelationTemplate(
        "What property does {ref} have?",
        "Which word describes {a}?",
        "{A} is [MASK].",
        "property (HasProperty)",
    ),
    "ReceivesAction": RelationTemplate(
        "What can be done to {ref}?",
        "What can be done to {a}?",
        "{A} can be [MASK].",
        "action it receives (ReceivesAction)",
    ),
    "CreatedBy": RelationTemplate(
        "Who or what makes {ref}?",
        "Who or what makes {a}?",
        "{A} is created by [MASK].",
        "maker (CreatedBy)",
    ),
    "Causes": RelationTemplate(
        "What can {ref} cause?",
        "What can {a} cause?",
        "{A} can cause [MASK].",
        "effect (Causes)",
    ),
    "Desires": RelationTemplate(
        "What does {ref} want?",
        "What does {a} want?",
        "{A} wants [MASK].",
        "desire (Desires)",
    ),
    "LocatedNear": RelationTemplate(
        "What is {ref} usually found near?",
        "What is {a} usually found near?",
        "{A} is usually found near a [MASK].",
        "typical neighbour (LocatedNear)",
    ),
}

#: Colour words: a HasProperty fact naming a colour is visible in the picture, so VQA skips it.
COLOUR_WORDS = frozenset(
    "red orange yellow green blue purple pink brown white black gray grey silver gold golden".split()
)


def indefinite(label: str) -> str:
    """``label`` with "a"/"an" ("an apple", "a unicorn", "an hour"); plural-looking labels stay bare."""
    low = label.lower()
    if is_plural(label):
        return label
    vowel = low[:1] in "aeiou" and not low.startswith(("uni", "use", "usu", "eu", "one", "uten"))
    if low.startswith(("hour", "honest", "heir")):
        vowel = True
    return ("an " if vowel else "a ") + label


#: Labels that take no article ("scissors is used for ..." reads better than "a scissors").
_BARE_PLURALS = frozenset(
    "scissors glasses sunglasses pants jeans shorts trousers tongs pliers tweezers binoculars goggles "
    "headphones earphones chopsticks fries clothes goods tropics bellows".split()
)


def is_plural(label: str) -> bool:
    """Whether ``label`` names a plural-only thing ("scissors"), which takes no article and "are"."""
    return label.lower().rsplit(" ", 1)[-1] in _BARE_PLURALS


#: Verb agreement for plural-only labels: (singular form in a template, plural form).
_PLURAL_VERBS = (
    ("What is {a}", "What are {a}"),
    ("What does {a}", "What do {a}"),
    ("{A} is ", "{A} are "),
    ("{A} has ", "{A} have "),
    ("{A} wants ", "{A} want "),
)


def fill(template: str, label: str | None = None, ref: str | None = None) -> str:
    """Fill ``{a}``/``{A}`` with ``label`` and ``{ref}`` with a referring expression."""
    out = template
    if label is not None:
        if is_plural(label):
            for singular, plural in _PLURAL_VERBS:
                out = out.replace(singular, plural)
        a = indefinite(label)
        out = out.replace("{A}", a[:1].upper() + a[1:]).replace("{a}", a)
    if ref is not None:
        out = out.replace("{ref}", ref)
    return out
