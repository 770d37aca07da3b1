"""Property-based tests of the parsers: generated files round-trip, inserted garbage is located."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kemm.errors import InputError
from kemm.kg import ingest

local = st.text(alphabet=string.ascii_letters + string.digits + "_-.~", min_size=1, max_size=12).filter(
    lambda s: not s.endswith(".")
)
iri = st.builds(lambda a, b: f"http://example.org/{a}/{b}", local, local)
lang = st.sampled_from(["", "en", "fr", "en-GB", "zh-Hant"])
literal_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)


def nt_escape(s: str) -> str:
    return (
        s.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


statement = st.one_of(
    st.tuples(st.just("edge"), iri, iri, iri),
    st.tuples(st.just("lit"), iri, iri, st.tuples(literal_text, lang)),
)
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def render(stmt) -> str:
    kind, s, p, o = stmt
    if kind == "edge":
        return f"<{s}> <{p}> <{o}> ."
    text, lg = o
    return f'<{s}> <{p}> "{nt_escape(text)}"' + (f"@{lg}" if lg else "") + " ."


@SETTINGS
@given(stmts=st.lists(statement, min_size=1, max_size=30))
def test_generated_ntriples_round_trip(tmp_path_factory, stmts):
    f = tmp_path_factory.mktemp("nt") / "g.nt"
    f.write_text("\n".join(render(s) for s in stmts) + "\n", encoding="utf-8")
    kg, skipped = ingest([f], dedup=False)
    assert not skipped
    edges = [(s, p, o) for k, s, p, o in stmts if k == "edge"]
    got = [
        (kg.entities.keys[h], kg.relations.keys[r], kg.entities.keys[t]) for h, r, t in kg.triples.tolist()
    ]
    assert got == edges
    lits = [(s, p, o[0], o[1].lower()) for k, s, p, o in stmts if k == "lit"]
    got_lits = [(kg.entities.keys[e], p, v, lg.lower()) for e, p, v, _, lg in kg.attributes.rows()]
    assert got_lits == lits  # values come back unescaped, byte for byte


@SETTINGS
@given(
    stmts=st.lists(statement, min_size=1, max_size=20),
    where=st.integers(0, 20),
    garbage=st.sampled_from(
        [
            "<http://a> <http://b> .",
            "<a b> <http://p> <http://o> .",
            '<http://a> <http://b> "x',
            "_: <http://p> <http://o> .",
            "<http://a> <http://b> <http://c>",
            "\x00",
        ]
    ),
)
def test_garbage_line_is_located(tmp_path_factory, stmts, where, garbage):
    lines = [render(s) for s in stmts]
    where = min(where, len(lines))
    lines.insert(where, garbage)
    f = tmp_path_factory.mktemp("nt") / "g.nt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        ingest([f])
    except InputError as e:
        assert e.line == where + 1 and e.path == str(f)
    else:
        raise AssertionError("garbage line was accepted")
    kg, skipped = ingest([f], on_error="skip", dedup=False)
    assert [n for _, n, _, _ in skipped] == [where + 1]
    assert kg.num_triples == sum(1 for s in stmts if s[0] == "edge")


token = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=10
)


@SETTINGS
@given(rows=st.lists(st.tuples(token, token, token), min_size=1, max_size=40))
def test_tsv_round_trip(tmp_path_factory, rows):
    f = tmp_path_factory.mktemp("tsv") / "t.tsv"
    f.write_text("".join(f"{h}\t{r}\t{t}\n" for h, r, t in rows), encoding="utf-8")
    kg, _ = ingest([f], format="tsv", dedup=False)
    got = [
        (kg.entities.keys[h], kg.relations.keys[r], kg.entities.keys[t]) for h, r, t in kg.triples.tolist()
    ]
    assert got == [(h.strip(), r.strip(), t.strip()) for h, r, t in rows]
