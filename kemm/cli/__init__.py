"""The ``kemm`` command line. Thin: it parses arguments, calls library functions and owns the terminal."""

from __future__ import annotations

import errno
import logging
import os
import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text

from kemm.errors import KemmError

app = typer.Typer(
    name="kemm",
    help="Knowledge-enhanced multimodal models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
_debug = False  # --debug (or KEMM_DEBUG set): errors end with their traceback, not one line


@app.callback()
def _setup(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    debug: bool = typer.Option(
        False, "--debug", help="On an error show the full traceback instead of a one-line message."
    ),
) -> None:
    global _debug
    _debug = _debug or debug
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
        force=True,
    )
    # spaCy (through a handler of its own: every line twice) and faiss log their set-up at INFO
    for noisy in ("spacy", "faiss.loader"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def _register_subcommands() -> None:
    from kemm.cli.kg import app as kg_app

    app.add_typer(kg_app, name="kg", help="Ingest, inspect, split and export knowledge graphs.")
    from kemm.cli.kge import app as kge_app

    app.add_typer(kge_app, name="kge", help="Train, evaluate and query knowledge-graph embeddings.")
    from kemm.cli.link import app as link_app

    app.add_typer(link_app, name="link", help="Link text, images and question files to KG entities.")
    from kemm.cli.data import app as data_app

    app.add_typer(
        data_app, name="data", help="Build the offline multimodal knowledge benchmark; show examples."
    )
    from kemm.cli.eval import app as eval_app

    app.add_typer(eval_app, name="eval", help="Evaluate tasks, build the fact-removed KG, run ablations.")
    from kemm.cli.pretrain import pretrain

    app.command("pretrain", help="Pre-train a vision-language model with knowledge objectives.")(pretrain)
    from kemm.cli.demo import demo

    app.command("demo", help="The main job on the bundled data, end to end, into one report.")(demo)


_register_subcommands()


def main() -> None:
    """Entry point of the ``kemm`` console script: bad input ends with a one-line message, not a traceback.

    Errors kemm raises on purpose (:class:`~kemm.errors.KemmError`) and, as a last resort, an
    operating-system error about a named file (missing, a directory, not permitted) print
    ``error: ...`` and exit 2; any other exception is a bug and keeps its traceback. ``--debug``
    (or ``KEMM_DEBUG``) shows the traceback of every error.
    """
    global _debug
    _debug = bool(os.environ.get("KEMM_DEBUG"))
    try:
        app()
    except KemmError as e:
        if _debug:
            raise
        _fail(str(e))
    except OSError as e:
        if _debug or e.filename is None:
            raise
        _fail(f"{_os_error_path(e)}: {e.strerror or e}")


def _os_error_path(e: OSError) -> str:
    """The file an OSError is about: for a rename onto a directory (atomic writes), the target."""
    name = e.filename
    if e.filename2 is not None and e.errno in (errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ENOTEMPTY):
        name = e.filename2
    return os.fsdecode(name) if isinstance(name, (str, bytes)) else str(name)


def _fail(message: str) -> NoReturn:
    console.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)
    sys.exit(2)
