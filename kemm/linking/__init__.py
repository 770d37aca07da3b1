"""Entity linking: text and detected objects -> KG entities; see :mod:`kemm.linking.linker`.

>>> from kemm.kg import KnowledgeGraph
>>> from kemm.linking import EntityLinker, LinkerConfig
>>> linker = EntityLinker.from_kg(KnowledgeGraph.load("runs/kg/commonsense"))   # doctest: +SKIP
>>> linker.link("Where do you keep knives?").links                               # doctest: +SKIP
"""

from kemm.linking.aliases import AliasTable
from kemm.linking.config import LinkerConfig
from kemm.linking.linker import EntityLink, EntityLinker, LinkResult

__all__ = ["AliasTable", "EntityLink", "EntityLinker", "LinkResult", "LinkerConfig"]
