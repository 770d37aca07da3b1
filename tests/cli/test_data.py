"""The ``kemm data`` commands end to end, through typer's test runner."""

import json
from pathlib import Path

from PIL import Image

from tests.conftest import run_cli as run

BENCH = Path(__file__).parents[1] / "fixtures" / "benchmark"


def test_make_benchmark_then_show(tmp_path):
    out = tmp_path / "bench"
    result = run(
        "data",
        "make-benchmark",
        "--kg",
        BENCH / "tiny_commonsense.ttl",
        "--out",
        out,
        "--sprites",
        BENCH / "emoji",
        "--seed",
        1,
        "--scale",
        0.005,
        "--image-size",
        48,
    )
    assert "multiple choice" in result.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["seed"] == 1 and stats["splits"]["train"]["images"] == 10  # ceil(2000 * 0.005)
    assert stats["kg"]["sources"][0]["name"] == "tiny_commonsense.ttl"
    with Image.open(next((out / "images" / "val").glob("*.jpg"))) as im:
        assert im.size == (48, 48)

    png = tmp_path / "example.png"
    run("data", "show", out, "--split", "val", "--index", 0, "--out", png)
    with Image.open(png) as im:
        assert im.format == "PNG"


def test_show_bad_index_is_a_one_line_error(tmp_path):
    out = tmp_path / "bench"
    run(
        "data",
        "make-benchmark",
        "--kg",
        BENCH / "tiny_commonsense.ttl",
        "--out",
        out,
        "--sprites",
        BENCH / "emoji",
        "--scale",
        0.002,
        "--image-size",
        40,
    )
    result = run("data", "show", out, "--index", 99999, "--out", tmp_path / "x.png", ok=False)
    assert result.exit_code != 0 and "out of range" in str(result.exception)


def test_missing_sprites_are_reported(tmp_path):
    result = run(
        "data",
        "make-benchmark",
        "--kg",
        BENCH / "tiny_commonsense.ttl",
        "--out",
        tmp_path / "b",
        "--sprites",
        tmp_path,
        ok=False,
    )
    assert "extract_emoji_sprites.py" in str(result.exception)
    assert not (tmp_path / "b").exists()


def test_kg_defaults_to_the_bundled_commonsense_kg(tmp_path):
    out = tmp_path / "bench"
    run("data", "make-benchmark", "--out", out, "--scale", 0.002, "--image-size", 32)
    stats = json.loads((out / "stats.json").read_text())
    assert [s["name"] for s in stats["kg"]["sources"]] == ["commonsense.ttl"]
