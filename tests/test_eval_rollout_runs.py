"""eval.py then rollout.py on tiny trained runs: Moving digits (mixture latent), camera-pan, numerical."""

import json

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

import eval as eval_cli
import rollout as rollout_cli
from data_prep.camera_pan import generate_camera_pan
from data_prep.mmnist import generate_mmnist
from data_prep.numerical import generate_numerical
from worldmodel.config import load_config
from worldmodel.eval.probes import load_probes
from worldmodel.train.loop import train

EVAL_KEYS = {"r2_position", "r2_velocity", "r2_acceleration", "r2_action_from_r", "r2_action_from_embedding",
             "r2_action_from_embedding_r", "dci_d", "dci_c", "dci_i",
             "centre_norm", "residual_norm", "embedding_std", "acc_label", "r2_position_predicted"}
SMALL = ["model.encoder.width=8", "model.encoder.out_dim=64", "model.latent.hidden=16", "model.predictor.hidden=16", "objective.hidden=16",
         "train.batch_size=16", "train.steps=20", "train.log_every=10", "train.threads=1", "train.mixed_precision=no"]


@pytest.fixture(scope="module")
def mmnist_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mmnist")
    data = generate_mmnist(root / "data", videos=12, frames=12, size=32, digit_size=12, digits=2, accel_prob=0.4)
    return train(load_config("configs/mmnist/adassl_mix.yaml", [f"data.path={data}", *SMALL]), root / "run")


def test_eval_writes_the_documented_keys_and_reloadable_probes(mmnist_run, capsys):
    eval_cli.main(["--run", str(mmnist_run)])
    metrics = json.loads((mmnist_run / "eval.json").read_text())
    assert EVAL_KEYS <= set(metrics)
    heldout = metrics.pop("heldout")  # the test videos, by manifest id: the seeded 20 % of the 12
    assert len(heldout) == 2 and set(heldout) <= {f"{i:05d}" for i in range(12)}
    assert all(isinstance(v, float) and np.isfinite(v) for v in metrics.values())
    assert 0 <= metrics["centre_norm"] <= 1 and metrics["embedding_std"] > 0 and 0 <= metrics["dci_d"] <= 1
    assert "r2_position" in capsys.readouterr().out
    probes = load_probes(mmnist_run / "probes")
    assert set(probes) == {"position", "velocity", "acceleration",  # labels are categorical
                           "action_from_r", "action_from_embedding", "action_from_embedding_r"}
    assert probes["position"].coef.shape == (4, 64) and probes["action_from_r"].coef.shape == (4, 8)
    assert probes["action_from_embedding_r"].coef.shape == (4, 64 + 8)
    assert probes["position"].info["r2_test"] == metrics["r2_position"]


def test_rollout_writes_scores_arrays_and_plots(mmnist_run, capsys):
    eval_cli.main(["--run", str(mmnist_run)])
    rollout_cli.main(["--run", str(mmnist_run), "--starts", "5", "--samples", "7", "--horizon", "3", "--save-embeddings"])
    out = mmnist_run / "rollouts"
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["starts"], metrics["samples"], metrics["horizon"]) == (5, 7, 3)
    for h in (1, 2, 3):
        assert metrics[f"position_best_of_n_h{h}"] <= metrics[f"position_mean_h{h}"]
        assert 0 <= metrics[f"position_coverage_h{h}"] <= 1 and metrics[f"position_diversity_h{h}"] > 0
    assert sum(metrics[f"modes_sampled_{m}"] for m in ("none", "x", "y")) == pytest.approx(1)
    assert sum(metrics[f"modes_true_{m}"] for m in ("none", "x", "y")) == pytest.approx(1)
    with np.load(out / "rollouts.npz", allow_pickle=False) as arrays:
        assert arrays["position_samples"].shape == (7, 5, 4, 4)
        assert arrays["position_truth"].shape == arrays["position_prior_mean"].shape == (5, 4, 4)
        assert arrays["position_deterministic"].shape == (4,)  # its error per step
        assert arrays["embeddings"].shape == (7, 5, 4, 64)
        # the decoded futures are the saved probe applied to the saved embeddings, and start at the start
        probe = load_probes(mmnist_run / "probes")["position"]
        np.testing.assert_allclose(probe.predict(arrays["embeddings"].astype(np.float64)), arrays["position_samples"], atol=1e-4)
        assert np.allclose(arrays["position_samples"][:, :, 0], arrays["position_samples"][0, :, 0])
    assert {p.name for p in out.glob("*.png")} >= {"fan_position.png", "errors_position.png", "modes.png"}
    assert "position_best_of_n_h1" in capsys.readouterr().out


def test_rollout_with_a_no_r_baseline_on_camera_pan(tmp_path):
    data = generate_camera_pan(tmp_path / "data", videos=8, frames=10, size=32)
    runs = {}
    for name, latent in (("adassl", "gaussian"), ("byol", "none")):
        cfg = load_config("configs/mmnist/adassl_v.yaml", [f"data.path={data}", "data.generator=camera_pan",
                                                           f"model.latent.kind={latent}", *SMALL])
        runs[name] = train(cfg, tmp_path / name)
        eval_cli.main(["--run", str(runs[name])])
    assert "r2_action_from_r" not in json.loads((runs["byol"] / "eval.json").read_text())  # no r to probe
    rollout_cli.main(["--run", str(runs["adassl"]), "--starts", "4", "--samples", "5", "--horizon", "2",
                      "--baseline", str(runs["byol"])])
    metrics = json.loads((runs["adassl"] / "rollouts" / "metrics.json").read_text())
    assert {"camera_position_baseline_h2", "camera_position_best_of_n_h2"} <= set(metrics)
    assert not any(k.startswith("modes_") for k in metrics)  # acceleration modes are for Moving digits
    assert (runs["adassl"] / "rollouts" / "fan_camera_position.png").is_file()


def test_numerical_rollouts_compare_the_sampled_spread_with_the_true_conditional(tmp_path):
    data = generate_numerical(tmp_path / "data", dim=4, modes=2, n_train=2000, n_test=500, n_ood=500)
    cfg = load_config("configs/numerical/adassl_v.yaml", [f"data.path={data}", "model.encoder.out_dim=4",
                      "model.latent.dim=4", "model.encoder.hidden=32", "model.latent.hidden=16",
                      "train.batch_size=128", "train.steps=20", "train.log_every=10", "train.threads=1"])
    run = train(cfg, tmp_path / "run")
    eval_cli.main(["--run", str(run)])
    metrics = json.loads((run / "eval.json").read_text())
    assert {"r2_train", "r2_test", "r2_ood", "r2_predicted", "r2_action_from_r", "dci_d", "centre_norm"} <= set(metrics)
    x, z, split = (np.load(data / f"{name}.npy") for name in ("x", "z", "split"))
    raw = LinearRegression().fit(x[split == 0], z[split == 0])  # the observation reference, unregularised
    for code, name in ((1, "test"), (2, "ood")):
        expected = r2_score(z[split == code], raw.predict(x[split == code]))
        assert abs(metrics[f"r2_{name}_observation"] - expected) < 0.01
    rollout_cli.main(["--run", str(run), "--starts", "50", "--samples", "16"])
    rolled = json.loads((run / "rollouts" / "metrics.json").read_text())
    assert rolled["horizon"] == 1 and -1 <= rolled["spread_corr"] <= 1 and rolled["spread_ratio"] > 0
    assert rolled["z_best_of_n_h1"] <= rolled["z_mean_h1"]
    with np.load(run / "rollouts" / "rollouts.npz") as arrays:
        assert arrays["z_samples"].shape == (16, 50, 2, 4) and arrays["z_true_std"].shape == (50, 4)
    assert (run / "rollouts" / "spread.png").is_file()
