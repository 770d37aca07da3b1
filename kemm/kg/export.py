"""Write a KG out in other formats: N-Triples, networkx (GraphML or pickle), PyG (``torch.save``)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from urllib.parse import quote

import numpy as np

from kemm.kg.graph import KnowledgeGraph
from kemm.utils.io import atomic_write

RDFS_LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
SKOS_ALT = "<http://www.w3.org/2004/02/skos/core#altLabel>"
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\x00-\x20<>\"{}|^`\\]*$")


def as_iri(key: str, kind: str) -> str:
    """``<key>`` when ``key`` is an absolute IRI, a blank node for ``_:`` keys, else a ``urn:kemm`` IRI."""
    if key.startswith("_:"):
        return "_:" + re.sub(r"[^A-Za-z0-9_]", "_", key[2:])
    if _ABSOLUTE_IRI.match(key):
        return f"<{key}>"
    return f"<urn:kemm:{kind}:{quote(key, safe='')}>"


def _literal(text: str, lang: str) -> str:
    esc = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{esc}"' + (f"@{lang}" if lang else "")


def export_ntriples(kg: KnowledgeGraph, out: str | Path, labels: bool = True) -> int:
    """Write triples (and labels/aliases as ``rdfs:label``/``skos:altLabel``); returns lines written."""
    ents = [as_iri(k, "entity") for k in kg.entities.keys]
    rels = [as_iri(k, "relation") for k in kg.relations.keys]
    n = 0
    with atomic_write(out) as f:
        t = np.asarray(kg.triples)
        for start in range(0, len(t), 1 << 16):
            block = t[start : start + (1 << 16)]
            f.write("".join(f"{ents[h]} {rels[r]} {ents[tl]} .\n" for h, r, tl in block.tolist()))
            n += len(block)
        if labels:
            for vocab, iris in ((kg.entities, ents), (kg.relations, rels)):
                for i, (label, lang) in enumerate(zip(vocab.labels, vocab.label_langs)):
                    if label:
                        f.write(f"{iris[i]} {RDFS_LABEL} {_literal(label, lang)} .\n")
                        n += 1
                for i, text, lang in vocab.aliases:
                    f.write(f"{iris[i]} {SKOS_ALT} {_literal(text, lang)} .\n")
                    n += 1
    return n


def export_networkx(kg: KnowledgeGraph, out: str | Path) -> None:
    """GraphML when ``out`` ends in ``.graphml``, else a pickled ``networkx.MultiDiGraph``."""
    import networkx as nx

    g = kg.to_networkx()
    out = Path(out)
    if out.suffix == ".graphml":
        with atomic_write(out, "wb") as f:
            nx.write_graphml(g, f)
    else:
        with atomic_write(out, "wb") as f:
            pickle.dump(g, f, protocol=pickle.HIGHEST_PROTOCOL)


def export_pyg(kg: KnowledgeGraph, out: str | Path, split: str | None = None) -> None:
    """``torch.save`` of :meth:`KnowledgeGraph.to_pyg` (load with ``torch.load(..., weights_only=False)``)."""
    import torch

    data = kg.to_pyg(split=split)
    with atomic_write(out, "wb") as f:
        torch.save(data, f)
