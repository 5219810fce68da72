"""How the numerical gap depends on the generator: the numerical methods × seeds along generator axes.

    python experiments/numerical_sweep.py --out runs/numerical_sweep [--axes noise_scale modes noise dim]
                                          [--seeds 0 1 2] [--methods ...] [--jobs 1] [key=value ...]
    python experiments/numerical_sweep.py --out runs/numerical_sweep --report   # no runs: tables and plots

An axis varies one option of the ``numerical`` generator (``python -m data_prep numerical --help``);
every point keeps the generator's defaults for the other options, so the default point is one point
shared by all axes. Point P's dataset is generated in ``data/numerical_sweep/P`` (``data.path`` and
``data.generator_args`` overrides), its runs go to ``OUT/P/METHOD/seedS`` (``run_table.run_one``:
train.py then eval.py; a finished run is reused, so an interrupted sweep continues where it stopped),
and the untrained-encoder floor (``configs/numerical/infonce.yaml`` with ``train.steps=0``, the first
seed only) to ``OUT/P/untrained/infonce/seedS``. Runs go seed by seed; within a seed InfoNCE,
AdaSSL-V and the floor come first, at the default and each axis's farthest value, then at the
other points, then each further method at every point; so a sweep cut short still spans every axis.

Written: ``OUT/results.json`` (every finished run by point), ``OUT/table.md`` (R² ood and test,
mean ± std over seeds, per point and method) and one plot per axis, ``--img-dir/numerical_sweep_AXIS.png``
(R² ood mean ± std per method against the axis, the raw-x and untrained-encoder floors dashed).
Extra ``key=value`` arguments go to every run (e.g. ``train.steps=1000``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from itertools import zip_longest
from pathlib import Path

from run_table import FAMILIES, run_one

from worldmodel.config import load_config
from worldmodel.data import ensure_dataset
from worldmodel.data.generators import load_generator

DATA_ROOT = Path("data/numerical_sweep")
UNTRAINED = "untrained"  # the pseudo-method of the untrained-encoder floor
PRIORITY = ["infonce", "adassl_v", "adassl_s", "hinfonce", "aninfonce"]  # the comparison the claim rests on first


def generator_defaults() -> dict:
    """The ``numerical`` generator's default options (name → value)."""
    params = inspect.signature(load_generator("numerical")).parameters
    return {name: p.default for name, p in params.items() if name != "out"}


def axis_values(defaults: dict) -> dict[str, list]:
    """The values of each axis; each includes the generator's default."""
    scale = defaults["noise_scale"]
    return {
        "noise_scale": [round(scale * f, 6) for f in (1, 2, 4)],
        "modes": sorted({1, defaults["modes"], 6}),
        "noise": ["normal", "laplace"],
        "dim": sorted({defaults["dim"], 10, 16}),
    }


def point_name(args: dict) -> str:
    """The folder name of a point given its non-default generator options: 'default' or 'noise_scale-1.2'."""
    return "_".join(f"{k}-{v}" for k, v in sorted(args.items())) or "default"


def grid(defaults: dict, axes: dict[str, list]) -> list[tuple[str, dict]]:
    """(name, non-default generator options) of every point, each once: the default point first, then
    round-robin over the axes from each one's farthest value inwards."""
    order = []
    for axis, values in axes.items():
        others = [v for v in values if v != defaults[axis]]
        if isinstance(values[0], (int, float)):  # farthest from the default first
            others.sort(key=lambda v: -abs(v - defaults[axis]))
        order.append([{axis: v} for v in others])
    points = [("default", {})]
    for batch in zip_longest(*order):
        points += [(point_name(args), args) for args in batch if args is not None]
    return points


def point_overrides(name: str, args: dict, root: Path = DATA_ROOT) -> list[str]:
    """The config overrides that select point ``name``'s dataset (generated in ``root/name``)."""
    return [f"data.path={(root / name).as_posix()}", *(f"data.generator_args.{k}={v}" for k, v in args.items())]


def jobs(points: list[tuple[str, dict]], methods: list[str], seeds: list[int], first: int) -> list[tuple[str, str, int]]:
    """(point, method, seed) in running order. Seed by seed; within a seed the first two methods and
    (first seed only) the untrained floor at the ``first`` points, then at the others, then each
    further method at every point."""
    out = []
    for i, seed in enumerate(seeds):
        core = [methods[:2], *([[UNTRAINED]] if i == 0 else [])]
        for tier in (points[:first], points[first:]):
            out += [(name, method, seed) for group in core for name, _ in tier for method in group]
        out += [(name, method, seed) for method in methods[2:] for name, _ in points]
    return out


def collect(out: Path, points: list[tuple[str, dict]]) -> dict:
    """The finished runs under ``out``: {point: {"generator_args", "methods": {method: [row, ...]}}}."""
    found = {}
    for name, args in points:
        methods = {}
        for row_file in sorted((out / name).glob("*/seed*/table_row.json")):  # OUT/P/METHOD/seedS
            methods.setdefault(row_file.parents[1].name, []).append(json.loads(row_file.read_text()))
        untrained = sorted((out / name / UNTRAINED).glob("infonce/seed*/table_row.json"))
        if untrained:
            methods[UNTRAINED] = [json.loads(f.read_text()) for f in untrained]
        found[name] = {"generator_args": args, "methods": methods}
    return found


def mean_std(rows: list[dict], key: str) -> tuple[float, float, int] | None:
    """(mean, std, n) of ``key`` over rows; std 0 for one row; None for none."""
    values = [r[key] for r in rows]
    if not values:
        return None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0), len(values)


def fmt(stat: tuple[float, float, int] | None) -> str:
    if stat is None:
        return "—"
    mean, std, n = stat
    return f"{mean:.3f} ± {std:.3f}" if n > 1 else f"{mean:.3f} (1 seed)"


def table(results: dict, methods: list[str], metric: str) -> str:
    """Markdown: one row per point, one column per method, then the untrained and raw-x floors."""
    lines = ["| point | " + " | ".join(methods) + " | untrained encoder | raw x |", "|---" * (len(methods) + 3) + "|"]
    for name, point in results.items():
        runs = point["methods"]
        any_run = next((rows[0] for rows in runs.values() if rows), None)
        raw = f"{any_run[metric + '_observation']:.3f}" if any_run else "—"
        cells = [fmt(mean_std(runs.get(m, []), metric)) for m in [*methods, UNTRAINED]]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {raw} |")
    return "\n".join(lines)


def plot_axis(results: dict, axis: str, values: list, defaults: dict, methods: list[str], path: Path) -> None:
    """R² ood (mean ± std over seeds) per method against one axis, the two floors dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [point_name({} if v == defaults[axis] else {axis: v}) for v in values]
    labels = [f"×{v / defaults['noise_scale']:g} ({v:g})" if axis == "noise_scale" else str(v) for v in values]
    fig, ax = plt.subplots(figsize=(6, 4))
    for colour, method in enumerate(methods):  # one colour per method in every plot
        stats = [(i, mean_std(results.get(n, {}).get("methods", {}).get(method, []), "r2_ood")) for i, n in enumerate(names)]
        stats = [(i, s) for i, s in stats if s is not None]
        if stats:
            ax.errorbar([i for i, _ in stats], [s[0] for _, s in stats], yerr=[s[1] for _, s in stats],
                        marker="o", capsize=3, label=method, color=f"C{colour}")
    floors = {"untrained encoder": [], "raw x": []}
    for i, n in enumerate(names):
        runs = results.get(n, {}).get("methods", {})
        untrained = mean_std(runs.get(UNTRAINED, []), "r2_ood")
        if untrained:
            floors["untrained encoder"].append((i, untrained[0]))
        any_run = next((rows[0] for rows in runs.values() if rows), None)
        if any_run:
            floors["raw x"].append((i, any_run["r2_ood_observation"]))
    for (label, pts), colour in zip(floors.items(), ("black", "grey")):
        if pts:
            ax.plot([i for i, _ in pts], [y for _, y in pts], "--", color=colour, label=label)
    ax.set_xticks(range(len(values)), labels)
    ax.set_xlabel(f"generator option '{axis}' (others at their defaults)")
    ax.set_ylabel("R² ood of a linear probe f(x) → z")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(out: Path, points, axes: dict, defaults: dict, methods: list[str], img_dir: Path) -> str:
    """Write results.json, table.md and the per-axis plots from the finished runs; return the ood table."""
    results = collect(out, points)
    (out / "results.json").write_text(json.dumps({"defaults": defaults, "axes": axes, "points": results}, indent=2))
    ood = table(results, methods, "r2_ood")
    (out / "table.md").write_text(f"R² ood\n\n{ood}\n\nR² test\n\n{table(results, methods, 'r2_test')}\n")
    for axis, values in axes.items():
        plot_axis(results, axis, values, defaults, methods, img_dir / f"numerical_sweep_{axis}.png")
    return ood


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    family = FAMILIES["numerical"]["methods"]
    parser.add_argument("--out", type=Path, default=Path("runs/numerical_sweep"))
    parser.add_argument("--axes", nargs="+", help="default: all (noise_scale modes noise dim)")
    parser.add_argument("--methods", nargs="+", choices=family, default=PRIORITY,
                        help="in running order (default: %(default)s)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel")
    parser.add_argument("--img-dir", type=Path, default=Path("docs/img"))
    parser.add_argument("--report", action="store_true", help="no runs: write the tables and plots of the finished ones")
    parser.add_argument("overrides", nargs="*", help="key=value passed to every run")
    args = parser.parse_args()
    defaults = generator_defaults()
    all_axes = axis_values(defaults)
    unknown = sorted(set(args.axes or []) - set(all_axes))
    if unknown:
        parser.error(f"--axes {unknown}; expected some of {sorted(all_axes)}")
    axes = {a: all_axes[a] for a in (args.axes or all_axes)}
    points = grid(defaults, axes)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        base = ["train.threads=1", *args.overrides]
        by_name = dict(points)
        for name, gen_args in points:  # generate each point's dataset once, not in parallel runs
            ensure_dataset(load_config("configs/numerical/infonce.yaml", [*base, *point_overrides(name, gen_args)]).data)

        def run(job: tuple[str, str, int]) -> dict:
            name, method, seed = job
            overrides = [*base, *point_overrides(name, by_name[name])]
            if method == UNTRAINED:
                return run_one("numerical", "infonce", seed, args.out / name / UNTRAINED, [*overrides, "train.steps=0"])
            row = run_one("numerical", method, seed, args.out / name, overrides)
            print(f"{name} {method} seed {seed}: R² ood {row['r2_ood']:.3f}, train {row['train_time_s']:.0f} s", flush=True)
            return row

        with ThreadPoolExecutor(args.jobs) as pool:
            # the default and each axis's farthest value (grid's first 1 + len(axes) points) before the rest
            list(pool.map(run, jobs(points, args.methods, args.seeds, first=1 + len(axes))))
    print(report(args.out, points, axes, defaults, args.methods, args.img_dir))


if __name__ == "__main__":
    main()
