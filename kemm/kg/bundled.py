"""The knowledge graphs shipped with kemm, in ``knowledge_graphs/`` at the repository root."""

from __future__ import annotations

from pathlib import Path

from kemm.errors import KemmError

#: Folder of the bundled KG sources (each folder has a README naming its source and license).
BUNDLED_DIR = Path(__file__).resolve().parents[2] / "knowledge_graphs"

#: name -> source path under :data:`BUNDLED_DIR` (what ``kemm kg ingest`` reads).
BUNDLED = {
    "commonsense": "commonsense/commonsense.ttl",  # everyday objects, emoji, ConceptNet relations
    "wordnet": "wordnet",  # Princeton WordNet 3.0 database files
}


def bundled_source(name: str) -> Path:
    """Path of the bundled KG ``name`` (``commonsense`` or ``wordnet``); a :class:`KemmError` when
    kemm was installed without its ``knowledge_graphs/`` folder."""
    if name not in BUNDLED:
        raise KemmError(f"no bundled KG named {name!r}; there are {', '.join(BUNDLED)}")
    path = BUNDLED_DIR / BUNDLED[name]
    if not path.exists():
        raise KemmError(
            f"the bundled {name} KG is not at {path} (kemm installed without its knowledge_graphs/ "
            "folder?); pass the KG file explicitly"
        )
    return path
