"""The ``kemm`` command line. Thin: it parses arguments, calls library functions and owns the terminal."""

from __future__ import annotations

import logging
import sys

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


@app.callback()
def _setup(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages.")) -> None:
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


_register_subcommands()


def main() -> None:
    """Entry point of the ``kemm`` console script: bad input ends with a one-line message, not a traceback."""
    try:
        app()
    except KemmError as e:
        console.print(Text.assemble(("error: ", "bold red"), str(e)), highlight=False, soft_wrap=True)
        sys.exit(2)
