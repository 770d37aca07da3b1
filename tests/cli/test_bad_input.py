"""Bad input to any ``kemm`` command ends with one line, ``error: ...`` (exit 2), not a traceback.

Every command of the click tree of :data:`kemm.cli.app` is run (a new command is covered without
touching this file) with a path that does not exist for each of its input files and directories,
through :func:`kemm.cli.main` exactly as the console script calls it, in a child process with a
40-column terminal. To pay for importing torch once, not once a command, one child runs them all in
turn: each with its own stdout and stderr (file descriptors 1 and 2), and an exception that escapes
``main()`` is printed as the interpreter prints it. Two commands also run as a real ``kemm``
process each (``python -c "from kemm.cli import main; main()"``), beside it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import typer
import yaml

from kemm.cli import app
from tests.conftest import FIXTURES
from tests.conftest import run_cli as run

# A parameter with such a name (or a Path type) names a file or directory to read.
_INPUT_NAME = re.compile(
    r"(^|_)(file|dir|path|config|kg|run|bench\w*|dataset\w*|sources?|questions?|vocab\w*|image\w*|sprites?)(_|$)"
)
# Values the generic rules cannot guess, by parameter name.
_PLAUSIBLE = {"dataset_format": "lama"}


def _commands(cmd=None, path=()):
    """(words, click command) of every leaf command under ``cmd``."""
    cmd = cmd if cmd is not None else typer.main.get_command(app)
    subs = getattr(cmd, "commands", None)
    if not subs:
        yield path, cmd
        return
    for name in sorted(subs):
        yield from _commands(subs[name], (*path, name))


COMMANDS = {" ".join(words): cmd for words, cmd in _commands()}


def _is_path(p) -> bool:
    d = p.type_descriptor
    return d.is_path or typing.get_args(d.annotation) == (Path,)


def _is_input(p) -> bool:
    return (
        not p.name.startswith("out")
        and not p.name.endswith("format")
        and (_is_path(p) or bool(_INPUT_NAME.search(p.name)))
    )


def _bad_args(words: str, missing: Path, out: Path) -> list[str]:
    """The command line of ``words`` with a missing path for every required input (and for the
    first optional input option: commands with no required input then read a missing file too);
    outputs go to ``out``; other required options get a plausible value."""
    args = words.split()
    optional_input_given = False
    for p in COMMANDS[words].params:
        d = p.type_descriptor
        value: str | None = None
        if p.name.startswith("out") and _is_path(p):
            value = str(out / f"{words.replace(' ', '-')}-{p.name}")
        elif _is_input(p) and (p.required or (not optional_input_given and p.param_type_name == "option")):
            value = str(missing / p.name)
            optional_input_given = optional_input_given or not p.required
        elif p.required:
            if p.name in _PLAUSIBLE:
                value = _PLAUSIBLE[p.name]
            elif d.is_choice:
                first = (d.choices or ("x",))[0]
                value = str(getattr(first, "value", first))
            elif d.annotation in (int, float):
                value = "1"
            else:
                value = "x"
        if value is not None:
            args += [value] if p.param_type_name == "argument" else [p.opts[0], value]
    return args


_DRIVER = r"""
import json, os, sys, tempfile, traceback
from kemm.cli import main

jobs_path, results_path = sys.argv[1:3]
jobs, results = json.load(open(jobs_path)), []
for argv in jobs:
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush(), sys.stderr.flush()
    os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
    sys.argv = ["kemm", *argv]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()  # what the interpreter prints for an exception main() lets through
        code = 1
    sys.stdout.flush(), sys.stderr.flush()
    os.dup2(saved[0], 1), os.dup2(saved[1], 2)
    out.seek(0), err.seek(0)
    results.append([code, out.read().decode(errors="replace"), err.read().decode(errors="replace")])
json.dump(results, open(results_path, "w"))
"""

_ENV = {**os.environ, "COLUMNS": "40", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
_ENV.pop("KEMM_DEBUG", None)


def _kemm(*args) -> subprocess.CompletedProcess:
    """A real ``kemm`` process."""
    cmd = [sys.executable, "-c", "from kemm.cli import main; main()", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=_ENV, timeout=120)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Every command line of this file, run: {name: (args, exit code, stdout, stderr)}."""
    tmp = tmp_path_factory.mktemp("bad")
    missing, out = tmp / "no-such", tmp / "out"
    kg = tmp / "kg"
    run("kg", "ingest", FIXTURES / "tsv" / "tiny_split", "--out", kg)
    bad_value = tmp / "kge.yaml"
    bad_value.write_text("model: transe\nmodel_kwargs: {dim: 8}\nlr: fast\nepochs: 1\n")
    good = tmp / "good.yaml"
    good.write_text(yaml.safe_dump({"model": "transe", "model_kwargs": {"dim": 8}, "epochs": 1}))
    a_dir = tmp / "a-directory"
    a_dir.mkdir()
    jobs = {f"missing: {words}": _bad_args(words, missing, out) for words in COMMANDS}
    jobs |= {
        "bad config value": ["kge", "train", "--kg", kg, "--config", bad_value, "--out", out / "r1"],
        "device not there": ["kge", "train", "--kg", kg, "-c", good, "-o", out / "r2", "--device", "cuda"],
        "unknown entity": ["kg", "neighbors", kg, "no_such_entity"],
        "wrong format": ["kg", "ingest", FIXTURES / "rdf" / "tiny.ttl", "--format", "tsv", "-o", out / "k"],
        "output is a directory": ["kg", "export", kg, "--to", "ntriples", "--out", a_dir],
        "config is a directory": ["eval", "ablate", "--config", a_dir, "--out", out / "ab"],
        "usage error": ["kg", "export", kg, "--out", out / "x.nt"],
    }
    spec = tmp / "jobs.json"
    spec.write_text(json.dumps([[str(a) for a in args] for args in jobs.values()]))
    with ThreadPoolExecutor(3) as pool:
        driver = pool.submit(
            subprocess.run,
            [sys.executable, "-c", _DRIVER, str(spec), str(tmp / "results.json")],
            capture_output=True,
            text=True,
            env=_ENV,
            timeout=240,
        )
        real = {
            "real: missing": pool.submit(_kemm, "kg", "stats", missing / "kg"),
            "real: --debug": pool.submit(_kemm, "--debug", "kg", "neighbors", kg, "no_such_entity"),
        }
        proc = driver.result()
        assert proc.returncode == 0, proc.stderr
        results = dict(zip(jobs, json.loads((tmp / "results.json").read_text())))
        for name, fut in real.items():
            p = fut.result()
            results[name] = [p.returncode, p.stdout, p.stderr]
    return {
        "missing": missing,
        "kg": kg,
        "a_dir": a_dir,
        "bad_value": bad_value,
        **{name: (jobs.get(name), *res) for name, res in results.items()},
    }


def _one_error_line(code: int, err: str) -> str:
    """The ``error:`` line of a failed command's stderr; asserts it is the only one, with no traceback."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("words", sorted(COMMANDS))
def test_missing_input_is_one_line(world, words):
    args, code, _, err = world[f"missing: {words}"]
    assert code != 0, f"kemm {' '.join(args)} succeeded"
    assert "Traceback" not in err, err
    if "Usage:" in err:  # typer's own usage box (exit 2), naming the parameter
        assert code == 2 and re.search(r"(Missing|Invalid|No such|does not exist)", err), err
        return
    line = _one_error_line(code, err)
    assert str(world["missing"]) in line, f"kemm {' '.join(args)}: {line}"


def test_bad_config_value_names_file_line_and_key(world):
    _, code, _, err = world["bad config value"]
    assert (
        _one_error_line(code, err)
        == f"error: {world['bad_value']}:3: lr: expected a number, got 'fast' (str)"
    )


def test_device_that_is_not_there(world):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is there")
    _, code, _, err = world["device not there"]
    assert "--device cuda" in _one_error_line(code, err)


def test_unknown_entity(world):
    _, code, _, err = world["unknown entity"]
    assert "unknown entity 'no_such_entity'" in _one_error_line(code, err)


def test_wrong_format_names_file_and_line(world):
    _, code, _, err = world["wrong format"]
    assert f"{FIXTURES / 'rdf' / 'tiny.ttl'}:1:" in _one_error_line(code, err)


def test_directories_where_files_belong(world):
    for name in ("output is a directory", "config is a directory"):
        _, code, _, err = world[name]
        assert f"error: {world['a_dir']}:" in _one_error_line(code, err)


def test_typer_usage_error_names_the_option(world):
    _, code, _, err = world["usage error"]
    assert code == 2 and "Traceback" not in err and "--to" in err and "Missing option" in err


def test_real_process_missing_kg(world):
    code, _, err = world["real: missing"][1:]
    assert f"{world['missing'] / 'kg'}: no such KG directory" in _one_error_line(code, err)


def test_debug_shows_the_traceback(world):
    code, _, err = world["real: --debug"][1:]
    assert code == 1 and "Traceback (most recent call last)" in err and "unknown entity" in err
    assert not any(line.startswith("error:") for line in err.splitlines())


def test_bugs_keep_their_traceback_and_os_errors_name_the_file(monkeypatch, capsys, tmp_path):
    """Not every exception becomes a message: a bug (RuntimeError) goes through ``main()``;
    an OSError about a named file is the last resort's one line."""
    from kemm import cli
    from kemm.kg.graph import KnowledgeGraph

    def bug(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(KnowledgeGraph, "load", bug)
    monkeypatch.setattr(sys, "argv", ["kemm", "kg", "stats", str(tmp_path)])
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main()

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "meta.json"))

    monkeypatch.setattr(KnowledgeGraph, "load", denied)
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'meta.json'}: Permission denied"
    monkeypatch.setattr(sys, "argv", ["kemm", "--debug", "kg", "stats", str(tmp_path)])
    with pytest.raises(PermissionError):
        cli.main()
