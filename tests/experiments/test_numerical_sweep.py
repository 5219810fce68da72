"""experiments/numerical_sweep.py: its grid (each point once, the default shared by every axis), its
running order, and its tables from finished runs (rows written as run_table.run_one writes them, which
it then reuses instead of training)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
import numerical_sweep as sweep  # noqa: E402
from run_table import run_one  # noqa: E402


def test_the_axes_follow_the_generator_defaults_and_share_one_default_point():
    defaults = sweep.generator_defaults()
    assert (defaults["noise_scale"], defaults["modes"], defaults["noise"], defaults["dim"]) == (0.3, 3, "normal", 6)
    axes = sweep.axis_values(defaults)
    assert axes["noise_scale"] == [0.3, 0.6, 1.2]
    points = sweep.grid(defaults, axes)
    # 1 default + (3-1) + (3-1) + (2-1) + (3-1) variants
    assert len(points) == 8 and len({name for name, _ in points}) == 8
    assert points[0] == ("default", {})
    # round-robin from each axis's farthest value: the extremes before the middle values
    assert [name for name, _ in points[1:5]] == ["noise_scale-1.2", "modes-6", "noise-laplace", "dim-16"]
    assert sweep.point_overrides("dim-16", {"dim": 16}) == ["data.path=data/numerical_sweep/dim-16",
                                                             "data.generator_args.dim=16"]


def test_jobs_run_seed_by_seed_the_comparison_and_floor_at_the_first_points_first():
    points = [("default", {}), ("modes-6", {"modes": 6}), ("modes-1", {"modes": 1})]
    jobs = sweep.jobs(points, ["infonce", "adassl_v", "adassl_s"], [0, 1], first=2)
    assert jobs[:9] == [("default", "infonce", 0), ("default", "adassl_v", 0), ("modes-6", "infonce", 0),
                        ("modes-6", "adassl_v", 0), ("default", "untrained", 0), ("modes-6", "untrained", 0),
                        ("modes-1", "infonce", 0), ("modes-1", "adassl_v", 0), ("modes-1", "untrained", 0)]
    assert jobs[9:12] == [("default", "adassl_s", 0), ("modes-6", "adassl_s", 0), ("modes-1", "adassl_s", 0)]
    assert sum(method == "untrained" for _, method, _ in jobs) == 3
    assert len(jobs) == 3 * 3 * 2 + 3
    assert all(seed == 1 for _, _, seed in jobs[12:])


def _finish(out: Path, method: str, seed: int, ood: float) -> None:
    run = out / method / f"seed{seed}"
    run.mkdir(parents=True)
    row = {"method": method, "seed": seed, "r2_test": ood + 0.05, "r2_ood": ood,
           "r2_test_observation": 0.78, "r2_ood_observation": 0.69, "train_time_s": 1.0}
    (run / "table_row.json").write_text(json.dumps(row))


def test_finished_runs_are_reused_and_summarised(tmp_path):
    _finish(tmp_path / "default", "infonce", 0, 0.80)
    _finish(tmp_path / "default", "infonce", 1, 0.90)
    _finish(tmp_path / "default" / "untrained", "infonce", 0, 0.70)
    # a finished run is read back, not trained (there is no dataset nor config override to train with)
    assert run_one("numerical", "infonce", 1, tmp_path / "default", ["data.path=/nonexistent"])["r2_ood"] == 0.90
    results = sweep.collect(tmp_path, [("default", {}), ("modes-1", {"modes": 1})])
    assert sorted(results["default"]["methods"]) == ["infonce", "untrained"]
    mean, std, n = sweep.mean_std(results["default"]["methods"]["infonce"], "r2_ood")
    assert (mean, n) == (pytest.approx(0.85), 2) and std == pytest.approx(0.0707107, abs=1e-6)
    lines = sweep.table(results, ["infonce", "adassl_v"], "r2_ood").splitlines()
    assert lines[2] == "| default | 0.850 ± 0.071 | — | 0.700 (1 seed) | 0.690 |"
    assert lines[3] == "| modes-1 | — | — | — | — |"


def test_report_writes_results_and_one_plot_per_axis(tmp_path):
    _finish(tmp_path / "default", "adassl_v", 0, 0.93)
    _finish(tmp_path / "noise-laplace", "adassl_v", 0, 0.91)
    defaults = sweep.generator_defaults()
    axes = {"noise": ["normal", "laplace"], "modes": [1, 3, 6]}
    sweep.report(tmp_path, sweep.grid(defaults, axes), axes, defaults, ["adassl_v"], tmp_path / "img")
    results = json.loads((tmp_path / "results.json").read_text())["points"]
    assert results["noise-laplace"]["methods"]["adassl_v"][0]["r2_ood"] == 0.91
    assert sorted(p.name for p in (tmp_path / "img").iterdir()) == ["numerical_sweep_modes.png", "numerical_sweep_noise.png"]
