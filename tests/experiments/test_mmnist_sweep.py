"""experiments/mmnist_sweep.py: its points' config overrides, its running order, the exact-position
ceiling on a small torus dataset (a crossing breaks a linear read-out; two frames show no
acceleration), and its table from finished runs (rows as run_table.run_one writes them)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from worldmodel.config import load_config
from worldmodel.data import ensure_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
import mmnist_sweep as sweep  # noqa: E402


def test_a_point_selects_its_torus_dataset_and_clip_length():
    point = sweep.parse_point("0.25:2")
    assert point.name == "accel_prob-0.25_wrap-True_context-2"
    data = load_config("configs/mmnist/adassl_v.yaml", point.overrides()).data
    assert data.path == "data/mmnist_sweep/accel_prob-0.25_wrap-True"  # shared with the point 0.25
    assert data.generator_args == {"accel_prob": 0.25, "wrap": True} and data.context == 2
    assert load_config("configs/mmnist/byol.yaml", sweep.parse_point("1").overrides()).data.context == 3
    walls = load_config("configs/mmnist/byol.yaml", sweep.Point(0.5, wrap=False).overrides()).data
    assert walls.path == "data/mmnist_sweep/accel_prob-0.5_wrap-False" and walls.generator_args["wrap"] is False
    for bad in ("x", "0.5:1", "1.5"):
        with pytest.raises(Exception, match=f"point '{bad}'"):
            sweep.parse_point(bad)


def test_an_event_size_gets_its_own_dataset_whose_events_are_that_much_larger(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "DATA_ROOT", tmp_path)
    small = sweep.Point(0.5, wrap=False)
    large = sweep.Point(0.5, wrap=False, accel_scale=3.0)
    assert large.name == "accel_prob-0.5_accel_scale-3.0_wrap-False" and small.name == "accel_prob-0.5_wrap-False"
    sizes = []
    for point in (small, large):
        data = load_config("configs/mmnist/byol.yaml", [*point.overrides(), "data.generator_args.videos=20"]).data
        acceleration = np.load(ensure_dataset(data) / "gt_acceleration.npy")
        sizes.append(np.abs(acceleration[np.abs(acceleration) > 0]).mean())
    assert data.generator_args["accel_scale"] == 3.0
    assert 3.0 < sizes[1] / sizes[0] < 6.0  # 4x the draw, at speeds that the larger events also raise
    assert sweep.DEFAULT_SCALE == 0.75  # the generator's: a sweep's point at 0.75 is the default point


def test_jobs_run_the_first_two_methods_at_every_point_before_the_others():
    points = [sweep.Point(0.5), sweep.Point(0.1), sweep.Point(0.5, 2)]
    jobs = [(p.name, m, s) for p, m, s in sweep.jobs(points, ["byol", "adassl_v", "infonce"], [0, 1])]
    assert jobs[:3] == [("accel_prob-0.5_wrap-True", "byol", 0), ("accel_prob-0.5_wrap-True", "adassl_v", 0),
                        ("accel_prob-0.1_wrap-True", "byol", 0)]
    assert [m for _, m, s in jobs if s == 0] == ["byol", "adassl_v"] * 3 + ["infonce"] * 3
    assert len(jobs) == 18 and all(s == 1 for _, _, s in jobs[9:])


def test_the_position_ceiling_is_exact_without_crossings_and_empty_with_two_frames(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "DATA_ROOT", tmp_path)
    point = sweep.Point(0.5)
    ensure_dataset(load_config("configs/mmnist/byol.yaml", [*point.overrides(), "data.generator_args.videos=40",
                                                             "data.generator_args.frames=16"]).data)
    three = sweep.ceiling(point)
    assert three["no_jump"] > 0.999  # the second difference of the positions is the acceleration
    assert 0 < three["jump_fraction"] < 0.5 and three["all"] < 0.5  # a crossing jumps by the canvas size
    assert sweep.ceiling(sweep.Point(0.5, 2))["no_jump"] < 0.3  # one velocity tells little of the last change
    assert sweep.ceiling(sweep.Point(0.1)) is None  # no dataset yet


def _finish(out: Path, method: str, seed: int, acceleration: float, action_from_r: float | None = None) -> None:
    run = out / method / f"seed{seed}"
    run.mkdir(parents=True)
    row = {"method": method, "seed": seed, "r2_acceleration": acceleration, "r2_velocity": 0.8,
           "r2_action_from_embedding": 0.01, "r2_action_inverse_dynamics": 0.2, "train_time_s": 1.0}
    if action_from_r is not None:
        row["r2_action_from_r"] = action_from_r
    (run / "table_row.json").write_text(json.dumps(row))


def test_report_aggregates_seeds_the_lead_and_writes_the_plot(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "DATA_ROOT", tmp_path / "data")  # no datasets: no ceiling
    points = [sweep.Point(0.5), sweep.Point(0.5, 2)]
    _finish(tmp_path / points[0].name, "byol", 0, 0.50)
    _finish(tmp_path / points[0].name, "adassl_v", 0, 0.60, 0.10)
    _finish(tmp_path / points[0].name, "adassl_v", 1, 0.70, 0.30)
    _finish(tmp_path / points[1].name, "adassl_v", 0, 0.05, 0.40)
    lines = sweep.report(tmp_path, points, ["byol", "adassl_v", "infonce"], tmp_path / "img").splitlines()
    assert lines[2] == "| accel_prob-0.5_wrap-True | byol | 0.500 | 0.800 | — | 0.010 | 0.200 | 1 | — | — |"
    assert lines[3] == ("| accel_prob-0.5_wrap-True | adassl_v | 0.650 ± 0.071 | 0.800 ± 0.000 | 0.200 ± 0.141 "
                        "| 0.010 ± 0.000 | 0.200 ± 0.000 | 2 | +0.150 | — |")
    assert lines[4].startswith("| accel_prob-0.5_wrap-True_context-2 | adassl_v | 0.050 |") and len(lines) == 5
    saved = json.loads((tmp_path / "results.json").read_text())["points"]
    assert saved[points[1].name]["context"] == 2 and len(saved[points[0].name]["methods"]["adassl_v"]) == 2
    assert (tmp_path / "img" / "mmnist_sweep.png").stat().st_size > 10_000


def test_a_sweep_over_event_sizes_is_plotted_against_the_size(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "DATA_ROOT", tmp_path / "data")
    points = [sweep.Point(0.5, wrap=False), sweep.Point(0.5, wrap=False, accel_scale=3.0)]
    for point, acceleration in zip(points, (0.5, 0.8)):
        _finish(tmp_path / point.name, "byol", 0, acceleration)
    lines = sweep.report(tmp_path, points, ["byol"], tmp_path / "img").splitlines()
    assert [line.split(" | ")[2] for line in lines[2:]] == ["0.500", "0.800"]
    assert (tmp_path / "img" / "mmnist_sweep_walls_accel_scale.png").stat().st_size > 10_000
