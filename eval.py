"""Probe a trained run: ``python eval.py --run DIR`` → DIR/eval.json and a printed table."""

from __future__ import annotations

import argparse

from worldmodel.eval.evaluate import evaluate_run, format_table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, help="run folder written by train.py")
    parser.add_argument("--data", help="dataset folder to probe (default: the run's data.path)")
    parser.add_argument("--reference-motion", choices=["phase"],
                        help="also report r2_r_to_reference_motion: a probe from r to the camera motion "
                             "estimated from the frames (phase correlation), with RUN/reference_motion.png")
    args = parser.parse_args(argv)
    metrics = evaluate_run(args.run, args.data, args.reference_motion)
    print(format_table(metrics))


if __name__ == "__main__":
    main()
