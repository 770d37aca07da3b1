import gzip
import json

import pytest

from kemm.data import DATASETS, detect_dataset, read_dataset
from kemm.data.readers.base import expand_braces, iter_json_array, iter_jsonl, load_json
from kemm.errors import InputError, KemmError
from kemm.kg.readers.base import ErrorPolicy


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_iter_json_array_matches_json_load(datasets_dir, chunk):
    path = datasets_dir / "visual_genome/scene_graphs.json"
    got = list(iter_json_array(path, chunk_size=chunk))
    assert [obj for _, obj in got] == json.loads(path.read_text())
    assert [line for line, _ in got] == [1, 11]  # where each element starts


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 100])
def test_iter_json_array_numbers_across_chunks(tmp_path, chunk):
    p = tmp_path / "a.json"
    p.write_text('[12345, 678 ,\n"x,]", {"a": [1, 2]}, -0.5e3 ]\n')
    assert [o for _, o in iter_json_array(p, chunk_size=chunk)] == [12345, 678, "x,]", {"a": [1, 2]}, -500.0]


def test_iter_json_array_gzip_and_empty(tmp_path):
    p = tmp_path / "a.json.gz"
    with gzip.open(p, "wt") as f:
        json.dump([{"i": i} for i in range(50)], f)
    assert [o["i"] for _, o in iter_json_array(p, chunk_size=16)] == list(range(50))
    e = tmp_path / "e.json"
    e.write_text(" [ ] ")
    assert list(iter_json_array(e)) == []


@pytest.mark.parametrize(
    ("text", "match", "line"),
    [
        ('{"a": 1}', "expected a JSON array", 1),
        ('[{"a": 1},\n {"b": }]', "not valid JSON", 2),
        ('[{"a": 1}\n {"b": 2}]', "expected ',' or ']'", 2),
        ('[{"a": 1},\n', "unexpected end of file", 2),
    ],
)
def test_iter_json_array_bad_json(tmp_path, text, match, line):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as e:
        list(iter_json_array(p, chunk_size=4))
    assert (e.value.path, e.value.line) == (str(p), line)


def test_load_json_reports_line(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"images": [],\n "annotations": [,]}')
    with pytest.raises(InputError, match="not valid JSON") as e:
        load_json(p)
    assert e.value.line == 2
    with pytest.raises(InputError, match="no such file"):
        load_json(tmp_path / "missing.json")


def test_iter_jsonl_bad_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\nnot json\n[1, 2]\n{"a": 2}\n')
    with pytest.raises(InputError, match="not JSON") as e:
        list(iter_jsonl(p, ErrorPolicy()))
    assert str(e.value).startswith(f"{p}:3: not JSON")
    errors = ErrorPolicy(on_error="skip")
    assert [(n, o["a"]) for n, o in iter_jsonl(p, errors)] == [(1, 1), (5, 2)]
    assert [(line, reason.split(":")[0]) for _, line, reason, _ in errors.skipped] == [
        (3, "not JSON"),
        (4, "expected a JSON object, found list"),
    ]


def test_expand_braces():
    assert expand_braces("shard-{000000..000002}.tar") == [
        "shard-000000.tar",
        "shard-000001.tar",
        "shard-000002.tar",
    ]
    assert expand_braces("s{8..10}.tar") == ["s8.tar", "s9.tar", "s10.tar"]
    assert expand_braces("{a,b}-{0..1}") == ["a-0", "a-1", "b-0", "b-1"]
    assert expand_braces("plain.tar") == ["plain.tar"]
    assert expand_braces("odd{x}.tar") == ["odd{x}.tar"]


def test_read_dataset_options_and_names(datasets_dir):
    with pytest.raises(KemmError, match="unknown dataset format 'nope'"):
        read_dataset("nope", datasets_dir)
    with pytest.raises(KemmError, match="coco-captions: .*unexpected keyword argument 'colour'"):
        read_dataset("COCO_Captions", datasets_dir / "coco/annotations/captions_train2017.json", colour=1)
    with pytest.raises(KemmError, match="check_images"):
        read_dataset(
            "coco-captions", datasets_dir / "coco/annotations/captions_train2017.json", check_images="yes"
        )
    assert DATASETS.get("vg") is DATASETS.get("visual-genome")


@pytest.mark.parametrize(
    ("rel", "name"),
    [
        ("coco/annotations/captions_train2017.json", "coco-captions"),
        ("coco/annotations/instances_val2017.json", "coco-instances"),
        ("coco/annotations/detections_val2017_results.json", "coco-results"),
        ("visual_genome/scene_graphs.json", "visual-genome"),
        ("vqav2/v2_OpenEnded_mscoco_train2014_questions.json", "vqav2"),
        ("okvqa/OpenEnded_mscoco_val2014_questions.json", "okvqa"),
        ("aokvqa/aokvqa_v1p0_val.json", "aokvqa"),
        ("commonsenseqa/train_rand_split.jsonl", "commonsenseqa"),
        ("lama/TREx/P19.jsonl", "lama"),
        ("image_text/shards/shard-{000000..000001}.tar", "webdataset"),
    ],
)
def test_detect_dataset(datasets_dir, rel, name):
    assert detect_dataset(datasets_dir / rel) == name


def test_detect_dataset_unknown(datasets_dir):
    with pytest.raises(InputError, match="cannot tell the dataset"):
        detect_dataset(datasets_dir / "image_text/manifest.jsonl")


def test_stream_counts_and_writes_skipped(datasets_dir, tmp_path):
    lines = (datasets_dir / "commonsenseqa/train_rand_split.jsonl").read_text().splitlines()
    bad = tmp_path / "train_rand_split.jsonl"
    bad.write_text("\n".join([lines[0], "{oops", lines[1]]) + "\n")
    stream = read_dataset("auto", bad, on_error="skip")
    assert [ex.id for ex in stream] == [
        "075e483d21c29a511267ef62bedc0461",
        "61fe6e879ff18686d7552425a36344c8",
    ]
    assert stream.count == 2 and len(stream.skipped) == 1
    stream.write_skipped(tmp_path / "skipped.tsv")
    rows = (tmp_path / "skipped.tsv").read_text().splitlines()
    assert rows[0] == "source\tline\treason\ttext"
    assert rows[1].split("\t")[:2] == [str(bad), "2"] and rows[1].endswith("{oops")
