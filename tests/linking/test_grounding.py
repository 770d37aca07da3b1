import json

import pytest

from kemm.data import read_dataset
from kemm.errors import InputError
from kemm.linking.grounding import ground_file

QUESTIONS = [
    {
        "id": "q1",
        "answerKey": "A",
        "question": {
            "stem": "Where do you keep ice cream?",
            "choices": [{"label": "A", "text": "freezer"}, {"label": "B", "text": "cave"}],
        },
    },
    {
        "id": "q2",
        "answerKey": "B",
        "question": {
            "stem": "What do you use to cut an apple?",
            "choices": [{"label": "A", "text": "a bat"}, {"label": "B", "text": "knives"}],
        },
    },
]


def write_jsonl(path, records, extra=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + extra)


def test_ground_file_records(linker, tmp_path):
    src, out = tmp_path / "q.jsonl", tmp_path / "g.jsonl"
    write_jsonl(src, QUESTIONS)
    stats = ground_file(linker, src, out, batch_size=1)
    assert (stats.written, stats.resumed, stats.skipped) == (2, 0, 0)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in recs] == ["q1", "q2"]
    assert [c["label"] for c in recs[0]["question"]["concepts"]] == ["ice cream"]
    freezer = recs[0]["choices"][0]
    assert [c["label"] for c in freezer["concepts"]] == ["freezer"]
    assert freezer["subgraph"]["num_seeds"] == 2 and freezer["subgraph"]["num_edges"] >= 1
    assert [c["label"] for c in recs[1]["choices"][1]["concepts"]] == ["knife"]
    assert not (tmp_path / "g.jsonl.partial").exists()


def test_resume_skips_done_ids_and_drops_torn_line(linker, tmp_path):
    src, out = tmp_path / "q.jsonl", tmp_path / "g.jsonl"
    write_jsonl(src, QUESTIONS)
    ground_file(linker, src, out)
    first = out.read_text().splitlines()[0]
    (tmp_path / "g.jsonl").unlink()
    (tmp_path / "g.jsonl.partial").write_text(first + "\n" + '{"id": "q2", "quest')  # interrupted run
    stats = ground_file(linker, src, out)
    assert (stats.written, stats.resumed) == (1, 1)
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["q1", "q2"]
    again = ground_file(linker, src, out)  # a complete output: nothing to do
    assert (again.written, again.resumed) == (0, 2)


def test_bad_records_are_counted_and_listed(linker, tmp_path):
    src, out = tmp_path / "q.jsonl", tmp_path / "g.jsonl"
    write_jsonl(src, QUESTIONS[:1], extra='{"id": "x"}\nnot json\n')
    stats = ground_file(linker, src, out)
    assert (stats.written, stats.skipped) == (1, 2)
    rows = [line.split("\t") for line in stats.skipped_path.read_text().splitlines()]
    assert rows[0] == ["source", "line", "reason", "text"]
    assert [(r[1], r[2]) for r in rows[1:]] == [
        ("2", "question x: missing field 'question'"),
        ("3", "not JSON: Expecting value (column 1)"),
    ]
    # the same reader raises with file and line when not skipping
    with pytest.raises(InputError, match="q.jsonl:2: question x: missing field 'question'"):
        list(read_dataset("commonsenseqa", src))
