"""eval on frame runs: linear probes from clip embeddings to the per-frame ground truth."""

import json

import pytest
import torch

from data_prep.mmnist import generate_mmnist
from worldmodel.config import load_config
from worldmodel.eval.evaluate import evaluate_run
from worldmodel.models import WorldModel
from worldmodel.models.predictors import MLPPredictor
from worldmodel.train.loop import train


def centres_of_mass(model, clips):
    """(B, k, 1, H, W) uint8 → (B, 2k): the intensity centre of mass (x, y) of every frame."""
    frames = clips[:, :, 0].double()
    ys, xs = torch.meshgrid(torch.arange(frames.shape[-2]), torch.arange(frames.shape[-1]), indexing="ij")
    mass = frames.sum((-2, -1))
    com = torch.stack([(frames * xs).sum((-2, -1)) / mass, (frames * ys).sum((-2, -1)) / mass], dim=-1)
    return com.flatten(1)


def test_frames_probe_reads_position_velocity_and_acceleration_from_known_features(tmp_path, monkeypatch):
    """With the frames' centres of mass as the embedding, one digit's position is a linear readout
    (R² ≈ 1), velocity and acceleration are first and second differences (exact but at bounces)."""
    data = generate_mmnist(tmp_path / "mmnist", videos=20, frames=16, size=64, digit_size=12, digits=1,
                           speed_min=0.5, speed_max=1.0, max_speed=2.0, accel_prob=0.5, seed=1)
    cfg = load_config("configs/mmnist/byol.yaml", [f"data.path={data}", "model.encoder.width=8",
                                                   "train.steps=0", "train.batch_size=8", "train.threads=1"])
    run = train(cfg, tmp_path / "run")
    monkeypatch.setattr(WorldModel, "encode", centres_of_mass)
    monkeypatch.setattr(MLPPredictor, "forward", lambda self, fx, r: fx)  # a predictor for the 2k-dim embedding
    metrics = evaluate_run(run)
    assert json.loads((run / "eval.json").read_text()) == metrics
    assert {"r2_position", "r2_velocity", "r2_acceleration", "r2_position_train"} <= set(metrics)
    assert metrics["r2_position"] > 0.999 and metrics["r2_position_train"] > 0.999
    # bounces make differences of positions depart from the velocity and acceleration; with
    # 4 test videos a few such outliers swing the test R², so the bounds are on the train videos
    assert metrics["r2_velocity_train"] > 0.95
    assert metrics["r2_acceleration_train"] > 0.6


def test_encode_pairs_gives_posterior_draws_around_the_posterior_mean(tmp_path):
    """``r_draw`` is a draw r ~ q(r | f(x), f(x⁺)): over repeats its mean is r̄ and its spread σ_q,
    the noise rollouts' prior draws also carry (so the [f(x), r] probe is fitted on draws)."""
    from data_prep.numerical import generate_numerical
    from worldmodel.data import build_dataset
    from worldmodel.eval.readouts import encode_pairs

    torch.manual_seed(0)
    folder = generate_numerical(tmp_path / "num", dim=4, n_train=16, n_test=4, n_ood=4, seed=0)
    cfg = load_config("configs/numerical/adassl_v.yaml", [f"data.path={folder}", "model.encoder.out_dim=4",
                                                          "model.latent.dim=4"])
    dataset = build_dataset(cfg.data, "train")
    model = WorldModel(cfg, tuple(dataset[0]["context"].shape))
    draws = torch.stack([torch.from_numpy(encode_pairs(model, dataset)["r_draw"]) for _ in range(400)])
    pairs = encode_pairs(model, dataset)
    with torch.no_grad():
        batch = dataset.__getitems__(list(range(len(dataset))))
        fx = model.encode(batch["context"])
        sigma = model.latent._posterior(fx, model.encode(batch["target"]))[1].double()
    assert torch.allclose(draws.mean(0), torch.from_numpy(pairs["r"]), atol=4 * sigma.max().item() / 20)
    assert torch.allclose(draws.std(0), sigma, rtol=0.15)
