"""Captions for image-text pre-training: several styles naming the objects and their layout."""

from __future__ import annotations

import numpy as np

from kemm.data.benchmark.knowledge import BenchmarkKnowledge
from kemm.data.benchmark.scene import PlacedObject, Scene
from kemm.data.benchmark.templates import indefinite

_NUMBERS = ("zero", "one", "two", "three", "four", "five")
_BACKGROUND_WORDS = {"solid": "plain", "gradient": "gradient", "noise": "mottled", "stripes": "striped"}


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _region(obj: PlacedObject, size: int) -> str:
    cx, cy = obj.center
    col = "left" if cx < size / 3 else "right" if cx > 2 * size / 3 else ""
    row = "top" if cy < size / 3 else "bottom" if cy > 2 * size / 3 else ""
    if row and col:
        return f"in the {row} {col} corner"
    if row or col:
        return f"at the {row or col}"
    return "in the middle"


def caption_styles(
    scene: Scene, knowledge: BenchmarkKnowledge, size: int, rng: np.random.Generator
) -> dict[str, str]:
    """Every caption style that applies to ``scene``: style name -> caption."""
    objs = scene.objects
    names = [indefinite(knowledge.label(o.key)) for o in objs]
    order = rng.permutation(len(objs)).tolist()
    shuffled = [names[i] for i in order]
    left_to_right = [names[i] for i in sorted(range(len(objs)), key=lambda i: objs[i].center[0])]
    out = {
        "photo": f"a photo of {_join(shuffled)}",
        "count": f"{_NUMBERS[len(objs)]} object{'s' if len(objs) > 1 else ''}: {_join(left_to_right)}",
        "background": f"{_join(shuffled)} on a {_BACKGROUND_WORDS[scene.background]} background",
        "regions": _join([f"{names[i]} {_region(objs[i], size)}" for i in order]),
        "there_is": f"there is {_join(shuffled)} in this picture",
    }
    coloured = [
        f"{indefinite(o.colour + ' ' + knowledge.label(o.key))}" if o.colour else names[i]
        for i, o in enumerate(objs)
    ]
    if any(o.colour for o in objs):
        out["colours"] = f"an image showing {_join([coloured[i] for i in order])}"
    if len(objs) >= 2:
        margin = 0.1 * size
        pairs = [(i, j) for i in order for j in order if i != j]
        for i, j in pairs:
            if objs[i].center[0] + margin < objs[j].center[0]:
                out["left_of"] = f"{names[i]} to the left of {names[j]}"
                break
        for i, j in pairs:
            if objs[i].center[1] + margin < objs[j].center[1]:
                out["above"] = f"{names[i]} above {names[j]}"
                break
        biggest = max(range(len(objs)), key=lambda k: objs[k].area)
        if all(objs[biggest].area >= 1.6 * o.area for k, o in enumerate(objs) if k != biggest):
            rest = [names[k] for k in order if k != biggest]
            out["size"] = f"{indefinite('large ' + knowledge.label(objs[biggest].key))} with {_join(rest)}"
    return out


def make_captions(
    scene: Scene, knowledge: BenchmarkKnowledge, size: int, rng: np.random.Generator, n: int
) -> list[str]:
    """``n`` captions in distinct styles (fewer when fewer styles apply), layout styles first."""
    styles = caption_styles(scene, knowledge, size, rng)
    keys = sorted(styles)
    chosen = [keys[i] for i in rng.permutation(len(keys))[:n]]
    return [styles[k] for k in chosen]
