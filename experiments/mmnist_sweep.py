"""How much of the stochastic factor each method keeps on moving digits, against how stochastic it is.

    python experiments/mmnist_sweep.py --out runs/mmnist_sweep [--points 0.5 0.1 1.0 0.5:2 0.25]
                                       [--methods byol adassl_v infonce] [--seeds 0] [key=value ...]
    python experiments/mmnist_sweep.py --out runs/mmnist_sweep --report   # no runs: table and plot
    python experiments/mmnist_sweep.py --out runs/mmnist_sweep_walls --walls --points 0.1 1.0 0.5:2
    python experiments/mmnist_sweep.py --out runs/mmnist_sweep_scale --walls --accel-scale 0.4 0.75 1.5 3 --points 0.5

A point ``P[:K]`` is the ``mmnist`` generator with ``accel_prob`` P and ``wrap`` (a torus: no wall
bounces, so the velocity changes only by acceleration events; ``--walls``: the generator's walls
instead), and clips of K frames (``data.context``; without K the config's 3). With K = 2 a clip
shows one velocity, not the acceleration at its last frame: the event between context and target
is then visible only in the pair. ``--accel-scale S ...`` sets the size of the events (the generator's
``accel_scale``: a change of S·|v|·U(0.5, 1.5); its default 0.75 without it), each point at every S given.
Point P's dataset is generated in ``data/mmnist_sweep/accel_prob-P_wrap-True`` (``wrap-False`` with walls,
``accel_scale-S`` inserted for an S other than the generator's default; shared by its K values),
its runs go to ``OUT/NAME/METHOD/seedS`` (``run_table.run_one``: train.py then eval.py; a finished
run is reused, so an interrupted sweep continues where it stopped). Runs go seed by seed; within a
seed the first two methods at every point in the order given, then each further method at every
point.

Written: ``OUT/results.json`` (every finished run by point, and each point's exact-position
ceiling: eval's acceleration probe fitted on the true positions of the clip's frames, as
experiments/acceleration_ceiling.py does, over all clips and over those without an edge crossing
or wall bounce), ``OUT/table.md`` and ``--img-dir/mmnist_sweep.png`` (``mmnist_sweep_walls.png``
with ``--walls``, ``_accel_scale`` added with ``--accel-scale``): acceleration R² from f(x) per method and r̄ → action R² against the event
probability (against the events' size when the points differ only in it), K ≠ 3 points as separate markers. Extra ``key=value`` arguments go to every run.
"""

from __future__ import annotations

import argparse
import inspect
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from acceleration_ceiling import clip_features
from numerical_sweep import collect, mean_std, point_name, point_overrides
from run_table import FAMILIES, run_one

from worldmodel.config import load_config
from worldmodel.data import build_dataset, ensure_dataset, load_generator, read_meta
from worldmodel.eval.probes import fit_ridge_probe

DATA_ROOT = Path("data/mmnist_sweep")
CONFIG = "configs/mmnist/{}.yaml"
DEFAULT_SCALE = inspect.signature(load_generator("mmnist")).parameters["accel_scale"].default
METRICS = ["r2_acceleration", "r2_velocity", "r2_action_from_r", "r2_action_from_embedding", "r2_action_inverse_dynamics"]


@dataclass(frozen=True)
class Point:
    """Event probability ``accel_prob``; ``context`` frames per clip (None: the config's); ``wrap``: on
    a torus (else the digit bounces off the walls); ``accel_scale``: the events' size (None: the
    generator's default, DEFAULT_SCALE)."""

    accel_prob: float
    context: int | None = None
    wrap: bool = True
    accel_scale: float | None = None

    @property
    def generator_args(self) -> dict:
        scale = {} if self.accel_scale is None else {"accel_scale": self.accel_scale}
        return {"accel_prob": self.accel_prob, "wrap": self.wrap, **scale}

    @property
    def data_name(self) -> str:
        return point_name(self.generator_args)  # accel_prob-0.5_wrap-True

    @property
    def name(self) -> str:
        return self.data_name + (f"_context-{self.context}" if self.context else "")

    def overrides(self) -> list[str]:
        """The config overrides that select this point's dataset and clip length."""
        context = [f"data.context={self.context}"] if self.context else []
        return [*point_overrides(self.data_name, self.generator_args, DATA_ROOT), *context]


def parse_point(text: str) -> Point:
    """'0.5' → Point(0.5); '0.5:2' → Point(0.5, context=2)."""
    prob, _, context = text.partition(":")
    try:
        point = Point(float(prob), int(context) if context else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"point '{text}': expected PROB or PROB:CONTEXT, e.g. 0.5 or 0.5:2") from None
    if not 0 <= point.accel_prob <= 1 or (point.context is not None and point.context < 2):
        raise argparse.ArgumentTypeError(f"point '{text}': expected a probability in [0, 1] and a context of at least 2 frames")
    return point


def jobs(points: list[Point], methods: list[str], seeds: list[int]) -> list[tuple[Point, str, int]]:
    """(point, method, seed) in running order: seed by seed, the first two methods at every point,
    then each further method at every point."""
    return [(point, method, seed) for seed in seeds for group in ([methods[:2]] + [[m] for m in methods[2:]])
            for point in points for method in group]


def ceiling(point: Point) -> dict | None:
    """Test R² of eval's acceleration probe fitted on the exact positions of the clip's frames (a
    position-linear embedding can do no better): over all clips (``all``) and fitted and scored on
    the clips without a jump (``no_jump``): a crossing of an edge of the torus (the position moves by
    the canvas size) or a wall bounce (the velocity flips); ``jump_fraction`` of the test clips have
    one. None while the point's dataset is missing."""
    data_cfg = load_config(CONFIG.format("byol"), point.overrides()).data
    if not (Path(data_cfg.path) / "meta.json").is_file():
        return None
    train, test = (clip_features(build_dataset(data_cfg, split)) for split in ("train", "test"))
    for split in (train, test):  # positions (N, k·2): a step of over half the canvas is a crossing
        steps = np.diff(split["positions"].reshape(len(split["video"]), data_cfg.context, -1), axis=1)
        crossing = np.abs(steps).max(axis=(1, 2)) > read_meta(data_cfg.path)["options"]["size"] / 2
        split["jump"] = crossing | split["bounce"]
    probe = fit_ridge_probe(train["positions"], train["acceleration"], train["video"])
    keep, free = ~train["jump"], ~test["jump"]
    free_probe = fit_ridge_probe(train["positions"][keep], train["acceleration"][keep], train["video"][keep])
    return {"all": float(probe.r2(test["positions"], test["acceleration"])),
            "no_jump": float(free_probe.r2(test["positions"][free], test["acceleration"][free])),
            "jump_fraction": float(test["jump"].mean())}


def stat(rows: list[dict], key: str) -> tuple[float, float, int] | None:
    """(mean, std, n) of ``key`` over the rows that have it (r2_action_from_r: the methods with r)."""
    return mean_std([r for r in rows if key in r], key)


def cell(rows: list[dict], key: str) -> str:
    found = stat(rows, key)
    if found is None:
        return "—"
    return f"{found[0]:.3f}" + (f" ± {found[1]:.3f}" if found[2] > 1 else "")


def table(results: dict, methods: list[str]) -> str:
    """Markdown: one row per point and method with runs, the METRICS (mean ± std over seeds), the seeds,
    AdaSSL-V's lead over BYOL in acceleration R² and the exact-position ceiling."""
    lines = ["| point | method | " + " | ".join(METRICS) + " | seeds | acc lead over byol | position ceiling (all / no jump) |",
             "|---" * (len(METRICS) + 5) + "|"]
    for name, point in results.items():
        runs = point["methods"]
        byol = stat(runs.get("byol", []), "r2_acceleration")
        for method in [m for m in methods if runs.get(m)]:
            own = stat(runs[method], "r2_acceleration")
            lead = f"{own[0] - byol[0]:+.3f}" if byol and method != "byol" else "—"
            top = "—" if point["ceiling"] is None else "{all:.3f} / {no_jump:.3f}".format(**point["ceiling"])
            cells = [cell(runs[method], key) for key in METRICS]
            lines.append(f"| {name} | {method} | " + " | ".join(cells) + f" | {len(runs[method])} | {lead} | {top} |")
    return "\n".join(lines)


def plot(results: dict, methods: list[str], path: Path) -> None:
    """Left: acceleration R² from f(x) per method (mean ± std over seeds) and the exact-position ceiling; right:
    action R² from r̄ (solid, the methods with r) and from [f(x), f(x⁺)] (dashed, triangles, every method);
    against accel_prob, or against accel_scale when the points differ only in it.
    Points with a context other than the config's are drawn as separate open markers."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.6))
    panels = ((left, {"r2_acceleration": ("-", "o", "")}, "R² of a linear probe f(x) → acceleration",
               "the event at the context's last frame, from f(x)"),
              (right, {"r2_action_from_r": ("-", "o", " from r̄"), "r2_action_inverse_dynamics": ("--", "^", " from [f(x), f(x⁺)]")},
               "R² of a linear probe → action", "the event between context and target"))
    contexts = "/".join(str(c) for c in sorted({p["context"] for p in results.values() if p["context"]}))
    scale = lambda p: DEFAULT_SCALE if p["accel_scale"] is None else p["accel_scale"]  # noqa: E731
    by_scale = len({scale(p) for p in results.values()}) > 1 and len({p["accel_prob"] for p in results.values()}) == 1
    x_of = scale if by_scale else (lambda p: p["accel_prob"])
    for ax, keys, ylabel, title in panels:
        for (key, (line, marker, source)), (colour, method) in ((k, m) for k in keys.items() for m in enumerate(methods)):
            for short, style in ((False, dict(marker=marker, linestyle=line)), (True, dict(marker="s", linestyle="none", mfc="none", ms=8))):
                pts = sorted((x_of(p), stat(p["methods"].get(method, []), key)) for p in results.values()
                             if (p["context"] is not None) == short)
                pts = [(x, s) for x, s in pts if s is not None]
                if pts:
                    label = method + source + (f", context {contexts}" if short else "")
                    ax.errorbar([x + 0.02 * short for x, _ in pts],  # short contexts beside the point they share x with
                                [s[0] for _, s in pts], yerr=[s[1] for _, s in pts],
                                capsize=3, color=f"C{colour}", label=label, **style)
        if ax is left:
            top = sorted((x_of(p), p["ceiling"]["all"]) for p in results.values() if p["ceiling"] and p["context"] is None)
            if top:
                ax.plot(*zip(*top), color="grey", linestyle=":", marker=".", label="exact positions, linear probe")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, max(x_of(p) for p in results.values()) * 1.05 if by_scale else 1.05)
        ax.set_ylim(-0.05, 1)
        ax.set_xlabel("size of an acceleration event, in |v| (accel_scale)" if by_scale
                      else "acceleration-event probability per frame (accel_prob)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    where = "on a torus (wrap, no walls)" if all(p["wrap"] for p in results.values()) else "with walls"
    if not by_scale:
        where += "".join(f", events of size {s}·|v|" for s in sorted({scale(p) for p in results.values()}) if s != DEFAULT_SCALE)
    fig.suptitle(f"Moving digits {where}: how much of the acceleration each method keeps")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(out: Path, points: list[Point], methods: list[str], img_dir: Path) -> str:
    """Write results.json, table.md and the plot from the finished runs; return the table."""
    found = collect(out, [(p.name, p.generator_args) for p in points])
    results = {p.name: {"accel_prob": p.accel_prob, "context": p.context, "wrap": p.wrap, "accel_scale": p.accel_scale,
                        "ceiling": ceiling(p),
                        "overrides": p.overrides(), "methods": found[p.name]["methods"]} for p in points}
    (out / "results.json").write_text(json.dumps({"points": results}, indent=2))
    text = table(results, methods)
    (out / "table.md").write_text(text + "\n")
    name = "mmnist_sweep" + ("" if all(p.wrap for p in points) else "_walls")
    name += "_accel_scale" if any(p.accel_scale is not None for p in points) else ""
    plot(results, methods, img_dir / f"{name}.png")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/mmnist_sweep"))
    parser.add_argument("--points", nargs="+", type=parse_point, default=[parse_point(p) for p in ("0.5", "0.1", "1.0", "0.5:2", "0.25")],
                        help="PROB[:CONTEXT] in running order (default: 0.5 0.1 1.0 0.5:2 0.25)")
    parser.add_argument("--methods", nargs="+", choices=FAMILIES["mmnist"]["methods"], default=["byol", "adassl_v", "infonce"],
                        help="in running order (default: %(default)s)")
    parser.add_argument("--walls", action="store_true", help="the digits bounce off walls (the generator's default) instead of wrapping")
    parser.add_argument("--accel-scale", type=float, nargs="+", default=None,
                        help=f"sizes of the acceleration events, the generator's accel_scale; every point at each (default: {DEFAULT_SCALE})")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--img-dir", type=Path, default=Path("docs/img"))
    parser.add_argument("--report", action="store_true", help="no runs: write the table and plot of the finished ones")
    parser.add_argument("overrides", nargs="*", help="key=value passed to every run")
    args = parser.parse_args()
    if args.walls:
        args.points = [replace(point, wrap=False) for point in args.points]
    if args.accel_scale is not None:  # the generator's default keeps the default point's name and folder
        args.points = [replace(point, accel_scale=None if scale == DEFAULT_SCALE else scale)
                       for point in args.points for scale in args.accel_scale]
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        base = ["train.threads=1", *args.overrides]
        for point in dict.fromkeys(args.points):
            ensure_dataset(load_config(CONFIG.format(args.methods[0]), [*base, *point.overrides()]).data)
        for point, method, seed in jobs(args.points, args.methods, args.seeds):
            row = run_one("mmnist", method, seed, args.out / point.name, [*base, *point.overrides()])
            print(f"{point.name} {method} seed {seed}: acceleration R² {row['r2_acceleration']:.3f}, "
                  f"train {row['train_time_s']:.0f} s", flush=True)
    print(report(args.out, args.points, args.methods, args.img_dir))


if __name__ == "__main__":
    main()
