"""The knowledge of one example, from kemm's linker and subgraph retrieval.

:func:`build_example_knowledge` turns what :mod:`kemm.linking` found in one example into an
:class:`~kemm.models.knowledge.ExampleKnowledge`:

* text links (:class:`kemm.linking.EntityLink`, character spans) become text mentions over the
  model's tokens, through the tokenizer's offset mapping (a Hugging Face fast tokenizer's
  ``return_offsets_mapping=True``; special tokens, offsets ``(0, 0)``, never cover a mention);
  their candidates and priors come from the linker's alias table (``linker.table``), the linked
  entity always among them;
* object links (:class:`kemm.linking.objects.ObjectLink`, or plain entity ids, one per object
  region in the order the model sees the regions) become region mentions;
* with a KG, the seeds give the k-hop subgraph (:func:`kemm.kg.subgraph.extract_subgraph`) with
  QA-GNN's node types: entities linked in the question and the image are ``question`` nodes,
  entities linked in the answer choice ``answer`` nodes, the rest ``other``.

Examples without any link are normal: no mention, and (with a KG) an empty subgraph, which
collation turns into the context node alone. :func:`ground_texts` does the same for a batch of
texts: it tokenizes, links and builds each example.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kemm.errors import KemmError
from kemm.models.knowledge import ExampleKnowledge, Mention

logger = logging.getLogger(__name__)


def char_span_to_tokens(offsets: Sequence[Sequence[int]], start: int, end: int) -> tuple[int, int] | None:
    """The token span ``(first, last + 1)`` covering characters ``start``..``end`` (end exclusive),
    or None when no token does (the text was truncated before it)."""
    hit = [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]
    return (hit[0], hit[-1] + 1) if hit else None


def mention_candidates(
    link: Any, table: Any = None, max_candidates: int = 8
) -> tuple[list[int], list[float]]:
    """Candidate entity ids of a text link and their priors, best first, at most ``max_candidates``.

    The priors are the alias table's P(entity | surface form); the linked entity is always a
    candidate (with prior 1 when the table does not list it for this form: a lemma or dense
    match), and the priors are renormalised to sum to 1. Without a table: the linked entity alone.
    """
    ids: list[int] = []
    priors: list[float] = []
    if table is not None:
        cands = table.candidates(link.text)
        order = sorted(range(len(cands.ids)), key=lambda k: -float(cands.prior[k]))
        ids = [int(cands.ids[k]) for k in order]
        priors = [float(cands.prior[k]) for k in order]
    if link.entity_id not in ids:
        ids, priors = [link.entity_id, *ids], [1.0, *priors]
    keep = ids.index(link.entity_id)
    if keep >= max_candidates:  # keep the linked entity inside the cut
        ids = ids[: max_candidates - 1] + [ids[keep]]
        priors = priors[: max_candidates - 1] + [priors[keep]]
    ids, priors = ids[:max_candidates], priors[:max_candidates]
    total = sum(priors) or 1.0
    return ids, [p / total for p in priors]


def _object_entity(obj: Any) -> int | None:
    if obj is None or isinstance(obj, int):
        return obj
    return obj.entity_id


def build_example_knowledge(
    text: str,
    offsets: Sequence[Sequence[int]],
    links: Sequence[Any],
    object_links: Sequence[Any] = (),
    kg: Any = None,
    hops: int = 2,
    max_nodes: int = 200,
    answer_start: int | None = None,
    answer_entities: Sequence[int] = (),
    table: Any = None,
    max_candidates: int = 8,
    relevance: Any = None,
) -> ExampleKnowledge:
    """One example's mentions (and, given ``kg``, its subgraph).

    Args:
        text: the text the model reads (and the linker linked).
        offsets: ``(start_char, end_char)`` of each token of the model's text sequence (index 0 is
            the first position of ``layout.text``), as a fast tokenizer's offset mapping.
        links: the text's :class:`~kemm.linking.EntityLink` s (a ``LinkResult`` works).
        object_links: one entry per object region, in region order: an ``ObjectLink``, an entity
            id, or None (a region linked to nothing).
        kg: the :class:`~kemm.kg.KnowledgeGraph` to retrieve the subgraph from; None: no graph.
        hops, max_nodes, relevance: of :func:`kemm.kg.subgraph.extract_subgraph`.
        answer_start: character offset in ``text`` where the answer choice begins; links from it
            on are answer entities (QA-GNN's ``answer`` nodes), the others question entities.
        answer_entities: further answer entity ids (a choice the text does not contain).
        table: the linker's :class:`~kemm.linking.AliasTable`, for candidates and priors.
        max_candidates: candidates kept per text mention.
    """
    mentions: list[Mention] = []
    question: list[int] = []
    answer: list[int] = list(answer_entities)
    for link in links:
        if text[link.start : link.end] != link.text:
            raise KemmError(
                f"link {link.text!r} at characters {link.start}-{link.end} does not match the text "
                f"({text[link.start : link.end]!r}): the links were made on another text"
            )
        is_answer = answer_start is not None and link.start >= answer_start
        (answer if is_answer else question).append(link.entity_id)
        span = char_span_to_tokens(offsets, link.start, link.end)
        if span is None:
            logger.debug("link %r at %d-%d is past the tokens; no mention", link.text, link.start, link.end)
            continue
        cands, priors = mention_candidates(link, table, max_candidates)
        mentions.append(
            Mention(link.entity_id, "text", start=span[0], end=span[1], candidates=cands, priors=priors)
        )
    for region, obj in enumerate(object_links):
        e = _object_entity(obj)
        if e is None:
            continue
        question.append(e)
        mentions.append(Mention(e, "region", region=region, candidates=[e], priors=[1.0]))
    if kg is None:
        return ExampleKnowledge(mentions)
    nodes, types, edges = _subgraph(kg, question, answer, hops, max_nodes, relevance)
    return ExampleKnowledge(mentions, nodes=nodes, node_types=types, edges=edges)


def _subgraph(kg: Any, question: list[int], answer: list[int], hops: int, max_nodes: int, relevance: Any):
    from kemm.kg.subgraph import extract_subgraph

    if not question and not answer:
        return [], [], []
    data = extract_subgraph(kg, question, answer or None, hops=hops, max_nodes=max_nodes, relevance=relevance)
    seed = data.seed_mask.tolist()
    ans = data.answer_mask.tolist() if "answer_mask" in data else [False] * len(seed)
    types = ["answer" if a else "question" if s else "other" for s, a in zip(seed, ans)]
    src, dst = data.edge_index.tolist()
    edges = list(zip(src, data.edge_type.tolist(), dst))
    return data.node_ids.tolist(), types, edges


def ground_texts(
    linker: Any,
    tokenizer: Any,
    texts: Sequence[str],
    object_links: Sequence[Sequence[Any]] | None = None,
    kg: Any = None,
    answer_starts: Sequence[int | None] | None = None,
    tokenizer_kwargs: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[Any, list[ExampleKnowledge]]:
    """Tokenize and link ``texts`` and build each example's knowledge.

    Args:
        linker: a :class:`~kemm.linking.EntityLinker` (its ``table`` gives the candidates).
        tokenizer: a Hugging Face fast tokenizer (for the offset mapping).
        object_links: per text, its regions' object links (see :func:`build_example_knowledge`).
        kg: retrieve subgraphs from it (default: none).
        answer_starts: per text, where its answer choice begins (or None).
        tokenizer_kwargs: passed to the tokenizer (``padding``, ``truncation``, ``max_length``).
        options: further :func:`build_example_knowledge` options (``hops``, ``max_nodes``, ...).

    Returns:
        the tokenizer's encoding (with ``offset_mapping`` removed) and one ``ExampleKnowledge`` per text.
    """
    enc = tokenizer(list(texts), return_offsets_mapping=True, **(tokenizer_kwargs or {}))
    offsets = enc.pop("offset_mapping")
    results = linker.link_many(list(texts))
    examples = []
    for i, (text, res) in enumerate(zip(texts, results)):
        rows = offsets[i].tolist() if hasattr(offsets[i], "tolist") else offsets[i]  # tensors or lists
        examples.append(
            build_example_knowledge(
                text,
                [tuple(o) for o in rows],
                res.links,
                object_links[i] if object_links is not None else (),
                kg=kg,
                answer_start=answer_starts[i] if answer_starts is not None else None,
                table=getattr(linker, "table", None),
                **options,
            )
        )
    return enc, examples
