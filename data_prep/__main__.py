"""``python -m data_prep <command> ...``: write dataset folders (see each command's --help).

Exit status: 0 when done, 1 with a one-line ``error: …`` for bad input (a folder, a file, an
option value the generator rejects), 2 for a bad command line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

from data_prep import camera_events, camera_pan, digit_pairs, image_pairs, mmnist, numerical, sim, videos
from worldmodel import cli

COMMANDS = [numerical, videos, mmnist, camera_pan, camera_events, image_pairs, digit_pairs, sim]


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__, prog="python -m data_prep")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    for command in sub.choices.values():
        cli.add_debug(command, subcommand=True)
    args = parser.parse_args(argv)
    with cli.user_errors(args.debug):
        args.func(args)


if __name__ == "__main__":
    main()
