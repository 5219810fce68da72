"""rollout.py on an image-pair run: prior samples of the paired image's embedding, decoded with the
probes, scored against the paired image's own ground truth."""

from __future__ import annotations

import json

import numpy as np

from data_prep.digit_pairs import generate_digit_pairs
from worldmodel.config import load_config
from worldmodel.data import ImagePairs
from worldmodel.eval.evaluate import evaluate_run
from worldmodel.rollout.report import rollout_run
from worldmodel.train.loop import train
from worldmodel.train.runs import model_hash


def test_image_pair_rollouts_score_samples_against_the_paired_images_ground_truth(tmp_path):
    data = generate_digit_pairs(tmp_path / "digits", size=16, pairs_per_image=1)
    cfg = load_config("configs/image_pairs/adassl_v.yaml", [
        f"data.path={data}", "model.encoder.width=8", "train.steps=4", "train.batch_size=32", "train.threads=1",
        "train.log_every=1"])
    run = train(cfg, tmp_path / "run")
    evaluate_run(run)
    metrics = rollout_run(run, starts=12, samples=8, horizon=5)
    assert metrics["horizon"] == 1 and metrics["starts"] == 12  # one step: the paired image
    for name in ("thickness", "slant", "size"):
        assert {f"{name}_probe_error", f"{name}_best_of_n_h1", f"{name}_coverage_h1"} <= set(metrics), sorted(metrics)

    arrays = np.load(run / "rollouts" / "rollouts.npz")
    test = ImagePairs(data, "test")
    assert np.isin(arrays["pair"], test.pairs).all()  # held-out pairs
    for end, step in (("context", 0), ("target", 1)):
        images = test.images[end][arrays["pair"]]
        truth = np.asarray(test.store.ground_truth["thickness"][images], dtype=np.float64)
        assert np.array_equal(arrays["thickness_truth"][:, step, 0], truth)
    assert not np.array_equal(arrays["thickness_truth"][:, 0], arrays["thickness_truth"][:, 1])  # other handwriting
    samples = arrays["thickness_samples"]  # (N, B, 2, 1)
    assert samples.shape == (8, 12, 2, 1)
    assert np.ptp(samples[:, :, 0], axis=0).max() == 0  # every future starts at the context's embedding
    assert np.ptp(samples[:, :, 1], axis=0).min() > 0  # and r drawn from the prior spreads the paired image's
    assert json.loads((run / "provenance.json").read_text())["rollouts"] == {"model_sha256": model_hash(run)}
