"""How RDF statements map onto a kemm KG, shared by the streaming and the rdflib readers.

* IRI or blank node objects -> triples (blank nodes get a per-source prefix so that ``_:b0`` in two
  files are two nodes).
* ``rdfs:label``/``skos:prefLabel`` -> label (the preferred-language one; the others become
  aliases); ``skos:altLabel``/``skos:hiddenLabel`` -> aliases; ``rdfs:comment``,
  ``skos:definition``, ``dcterms:description``, ``schema:description`` -> description.
* every other literal -> an entity attribute (predicate, value, datatype, language), never an entity.
"""

from __future__ import annotations

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = RDF + "langString"

NAME_PREDICATES: dict[str, str] = {
    RDFS + "label": "label",
    SKOS + "prefLabel": "label",
    SKOS + "altLabel": "alias",
    SKOS + "hiddenLabel": "alias",
    RDFS + "comment": "description",
    SKOS + "definition": "description",
    "http://purl.org/dc/terms/description": "description",
    "http://purl.org/dc/elements/1.1/description": "description",
    "http://schema.org/description": "description",
    "https://schema.org/description": "description",
    "http://schema.org/name": "label",
    "https://schema.org/name": "label",
}


def blank_key(source_index: int, label: str) -> str:
    """Entity key of blank node ``_:label`` read from the ``source_index``-th source."""
    return f"_:s{source_index}.{label}"


def plain_datatype(datatype: str) -> str:
    """ "" for the datatypes every plain or language-tagged string has, else the datatype IRI."""
    return "" if datatype in (XSD_STRING, RDF_LANGSTRING) else datatype
