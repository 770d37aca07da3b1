"""Write a KG out in other formats: N-Triples, networkx (GraphML or node-link JSON), PyG tensors (safetensors)."""

from __future__ import annotations

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
    """GraphML when ``out`` ends in ``.graphml``, else networkx's node-link JSON (nothing pickled):
    ``networkx.node_link_graph(json.load(f), edges="edges")`` reads it back."""
    import json

    import networkx as nx

    g = kg.to_networkx()
    out = Path(out)
    if out.suffix == ".graphml":
        with atomic_write(out, "wb") as f:
            nx.write_graphml(g, f)
    else:
        with atomic_write(out) as f:
            json.dump(nx.node_link_data(g, edges="edges"), f)


def export_pyg(kg: KnowledgeGraph, out: str | Path, split: str | None = None) -> None:
    """The tensors of :meth:`KnowledgeGraph.to_pyg` as safetensors (``num_nodes`` in the metadata;
    nothing pickled): :func:`load_pyg` reads it back as a PyG ``Data``."""
    from safetensors.torch import save

    data = kg.to_pyg(split=split)
    tensors = {k: v.contiguous() for k, v in data.items() if hasattr(v, "contiguous")}
    with atomic_write(out, "wb") as f:
        f.write(save(tensors, metadata={"num_nodes": str(data.num_nodes), "format": "kemm-pyg"}))


def load_pyg(path: str | Path):
    """A PyG ``Data`` from a file written by :func:`export_pyg`."""
    from safetensors import safe_open
    from torch_geometric.data import Data

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return Data(**tensors, num_nodes=int(meta.get("num_nodes", 0)) or None)
