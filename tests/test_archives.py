"""Archives are never extracted outside their target folder.

kemm reads tar shards member by member in memory (``extractfile``); nothing extracts to disk. This
test keeps it so: a call of ``extractall`` / ``extract`` (tarfile, zipfile) or
``shutil.unpack_archive`` anywhere in kemm must pass ``filter="data"``, the tarfile filter that
refuses absolute names, ``..``, links out of the folder and special files. zipfile has no such
filter, so extracting a zip to disk fails here too, until the names are checked by hand and this
test is taught about it.
"""

import ast

from tests.meta import scan_kemm

EXTRACTING = ("extractall", "extract", "unpack_archive")


def _unsafe_extractions(tree: ast.AST) -> list[str]:
    """Calls in ``tree`` that extract an archive to disk without ``filter="data"``."""
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in EXTRACTING:
            continue
        flags = {k.arg: k.value for k in node.keywords}
        value = flags.get("filter")
        if not (isinstance(value, ast.Constant) and value.value == "data"):
            hits.append(f"line {node.lineno}: {name}")
    return hits


def test_nothing_in_kemm_extracts_archives_unfiltered():
    assert scan_kemm(_unsafe_extractions) == []


def test_the_check_works():
    src = (
        "import tarfile, zipfile, shutil\n"
        "tar.extractall(out)\n"
        "tar.extractall(out, filter='data')\n"
        "tar.extract(member, out, filter='fully_trusted')\n"
        "zipfile.ZipFile(p).extractall(out)\n"
        "shutil.unpack_archive(p, out)\n"
        "shutil.unpack_archive(p, out, filter='data')\n"
        "from shutil import unpack_archive\n"
        "unpack_archive(p, out, filter=f)\n"
        "tar.extractfile(member).read()\n"
    )
    assert _unsafe_extractions(ast.parse(src)) == [
        "line 2: extractall",
        "line 4: extract",
        "line 5: extractall",
        "line 6: unpack_archive",
        "line 9: unpack_archive",
    ]
