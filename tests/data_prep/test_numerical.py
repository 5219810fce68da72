"""The numerical generator really is heteroscedastic, multimodal and invertibly mixed."""

import json

import numpy as np
import pytest

from data_prep.__main__ import main as data_prep_main
from data_prep.numerical import generate_numerical, mix, mode_probabilities, noise_std
from worldmodel.data import NumericPairs


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("num") / "ds"
    data_prep_main(["numerical", str(out), "--n-train", "20000", "--n-test", "2000", "--n-ood", "2000", "--seed", "3"])
    return out


def process(folder):
    return json.loads((folder / "meta.json").read_text())


def test_splits_and_ood_breadth(folder):
    train, ood = NumericPairs(folder, "train"), NumericPairs(folder, "ood")
    assert (len(train), len(NumericPairs(folder, "test")), len(ood)) == (20000, 2000, 2000)
    assert np.allclose(train.tensors["gt_z"].var(0).numpy(), 1.0, atol=0.05)
    assert np.allclose(ood.tensors["gt_z"].var(0).numpy(), 5.0, rtol=0.15)


def test_mixing_is_the_stored_invertible_map(folder):
    ds, meta = NumericPairs(folder, "test"), process(folder)
    weights = [np.array(w) for w in meta["process"]["mixing_weights"]]
    assert np.allclose(mix(ds.tensors["gt_z"].numpy().astype(np.float64), weights), ds.tensors["context"].numpy(), atol=1e-4)
    for w in weights:
        assert np.linalg.cond(w) < 1 + 1e-6


def test_changes_are_heteroscedastic(folder):
    ds, meta = NumericPairs(folder, "train"), process(folder)
    z = ds.tensors["gt_z"].numpy().astype(np.float64)
    change = ds.tensors["action"].numpy()
    blocks = np.array(meta["process"]["mode_blocks"])[ds.tensors["gt_mode"].numpy()]
    sigma = noise_std(z, np.array(meta["process"]["noise_direction"]), 0.3, 1.5)[:, 0]
    lo, hi = sigma < np.quantile(sigma, 0.2), sigma > np.quantile(sigma, 0.8)
    spread = lambda m: np.sqrt((change[m] ** 2).sum() / blocks[m].sum())
    assert spread(hi) / spread(lo) > 4  # noise scale varies strongly with z
    assert np.all(change[blocks == 0] == 0)  # only the chosen block changes


def test_mode_choice_depends_on_z(folder):
    ds, meta = NumericPairs(folder, "train"), process(folder)
    z = ds.tensors["gt_z"].numpy().astype(np.float64)
    probs = mode_probabilities(z, np.array(meta["process"]["mode_weights"]), 2.0)
    mode = ds.tensors["gt_mode"].numpy()
    confident = probs.max(1) > 0.8
    assert (mode[confident] == probs[confident].argmax(1)).mean() > 0.75
    assert min(np.bincount(mode, minlength=3)) > 0.15 * len(mode)  # every mode occurs


def test_layer_gain_keeps_deep_mixing_at_unit_scale(tmp_path):
    def x_std(gain):
        out = generate_numerical(tmp_path / f"g{gain}", mixing_layers=8, layer_gain=gain, n_train=4000, n_test=500, n_ood=500)
        ds, meta = NumericPairs(out, "train"), process(out)
        weights = [np.array(w) for w in meta["process"]["mixing_weights"]]
        assert np.allclose(mix(ds.tensors["gt_z"].numpy().astype(np.float64), weights), ds.tensors["context"].numpy(), atol=1e-4)
        return float(ds.tensors["context"].std())

    assert x_std(1.0) < 0.1  # each leaky-ReLU shrinks the scale: 8 plain layers leave x tiny
    assert 0.3 < x_std(1.387) < 2.0  # std 0.5 with 8 layers
    with pytest.raises(ValueError, match="--layer-gain must be > 0"):
        generate_numerical(tmp_path / "bad", layer_gain=0.0)
