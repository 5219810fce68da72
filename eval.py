"""Probe a trained run: ``python eval.py --run DIR`` → DIR/eval.json, DIR/probes/ and a printed table.

Exit status: 0 when done, 1 with a one-line ``error: …`` for bad input (not a finished run, a run
being trained, unreadable or non-finite weights, a dataset folder that does not fit), 2 for a bad
command line.
"""

from __future__ import annotations

from worldmodel import cli


def main(argv: list[str] | None = None) -> None:
    parser = cli.parser(__doc__, prog="eval.py")
    parser.add_argument("--run", required=True, help="run folder written by train.py")
    parser.add_argument("--data", help="dataset folder to probe (default: the run's data.path)")
    parser.add_argument("--reference-motion", choices=["phase"],
                        help="also report r2_r_to_reference_motion: a probe from r to the camera motion "
                             "estimated from the frames (phase correlation), with RUN/reference_motion.png "
                             "(frame runs only)")
    args = cli.parse(parser, argv)
    with cli.user_errors(args.debug):
        from worldmodel.eval.evaluate import evaluate_run, format_table

        metrics = evaluate_run(args.run, args.data, args.reference_motion)
    print(format_table(metrics))


if __name__ == "__main__":
    main()
