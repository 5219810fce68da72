"""``python -m data_prep <command> ...``: write dataset folders (see each command's --help)."""

from __future__ import annotations

import argparse

from data_prep import camera_pan, digit_pairs, image_pairs, mmnist, numerical, videos

COMMANDS = [numerical, videos, mmnist, camera_pan, image_pairs, digit_pairs]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data_prep", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
