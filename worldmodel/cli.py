"""What every command-line entry point shares: one-line errors, ``--debug``, overrides anywhere.

A CLI builds its parser with :func:`parser`, parses with :func:`parse` (options and ``key=value``
overrides in any order) and does its work inside :func:`user_errors`; heavy imports (torch,
scikit-learn, matplotlib) go inside the function, after parsing, so ``--help`` is instant::

    def main(argv=None):
        p = cli.parser(__doc__)
        p.add_argument("--run", required=True)
        args = cli.parse(p, argv)
        with cli.user_errors(args.debug):
            from worldmodel.eval.evaluate import evaluate_run
            evaluate_run(args.run)

Exit status and message:

- a usage error (unknown option, a value of the wrong form): one line
  ``error: <what argparse says> (see <prog> --help)``, status 2;
- an expected failure (:func:`user_error_types`: a bad config, dataset folder, run folder or
  checkpoint, a missing file, a value the library rejects, as ``ValueError`` / ``OSError``
  subclasses carrying a message that names the input): one line ``error: <message>``, status 1;
- anything else is a bug and keeps its traceback; ``--debug`` shows the traceback of every error.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from typing import Callable, Iterator


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (status 2) and which knows ``--debug``."""

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parser(description: str | None, prog: str | None = None) -> Parser:
    """A :class:`Parser` with the module docstring as description and a ``--debug`` flag."""
    p = Parser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_debug(p)
    return p


def add_debug(p: argparse.ArgumentParser, subcommand: bool = False) -> None:
    """Add ``--debug``; on a ``subcommand``'s parser it leaves the top-level value alone unless given."""
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS if subcommand else False,
                   help="show the traceback of an error instead of one line")


def parse(p: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` with positionals (e.g. ``key=value`` overrides) allowed between the options."""
    return p.parse_intermixed_args(argv)


def at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number ≥ ``low`` (``--videos 0`` is a usage error, not an empty dataset)."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number ≥ {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number ≥ {low}, got {value}")
        return value

    whole.__name__ = f"whole number ≥ {low}"
    return whole


def share(text: str) -> float:
    """An argparse ``type``: a number from 0 to 1."""
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share from 0 to 1")
    return value


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean bad input, not a bug: their message names the input.

    ``ValueError`` covers ConfigError, DatasetFolderError, RunFolderError and malformed JSON;
    ``OSError`` a missing file, a path under a file, a permission; CheckpointError a damaged
    checkpoint (looked up only if its module was imported: nothing else can have raised it, and
    importing it here would load accelerate and torch).
    """
    checkpoints = sys.modules.get("worldmodel.train.checkpoints")
    return (ValueError, OSError, *((checkpoints.CheckpointError,) if checkpoints else ()))


def one_line(err: BaseException) -> str:
    """``error: <message>``: the first line of the message (an OSError as ``<file>: <reason>``)."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        text = f"{err.filename}: {err.strerror}"
    else:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"error: {text}"


@contextmanager
def user_errors(debug: bool = False, extra: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn an expected failure (:func:`user_error_types` plus ``extra``) into one line on stderr
    and exit status 1; with ``debug`` let it raise with its traceback."""
    try:
        yield
    except Exception as err:
        if debug or not isinstance(err, (*user_error_types(), *extra)):
            raise
        sys.exit(one_line(err))
