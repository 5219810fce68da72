"""experiments/supervised_ceiling.py: the config's encoder, told the answer, learns to read it: on small
moving digits the supervised loss falls and the held-out position is read far better than by chance."""

import sys
from pathlib import Path

from data_prep.mmnist import generate_mmnist
from worldmodel.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
from supervised_ceiling import ceiling  # noqa: E402


def test_supervised_encoder_reads_the_position_it_is_trained_on(tmp_path):
    data = generate_mmnist(tmp_path / "data", videos=16, frames=12, size=32, digit_size=12, accel_prob=0.5)
    cfg = load_config("configs/mmnist/byol.yaml", [f"data.path={data}", "data.generator=null", "train.steps=40",
                                                   "train.batch_size=32", "model.encoder.width=8", "model.encoder.out_dim=32",
                                                   "optim.warmup_steps=5"])
    saved = tmp_path / "encoder.safetensors"
    losses, r2 = ceiling(cfg, truth="position", save_encoder=str(saved))
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10
    assert set(r2) == {"position_0", "position_1", "action_0", "action_1"}
    assert min(r2["position_0"], r2["position_1"]) > 0.8
    # the saved encoder loads back as model.encoder.weights, frozen, and reads the position as well
    frozen = load_config("configs/mmnist/byol.yaml", [f"data.path={data}", "data.generator=null", "train.steps=0",
                                                      "model.encoder.width=8", "model.encoder.out_dim=32",
                                                      f"model.encoder.weights={saved}", "model.encoder.freeze=true"])
    _, reloaded = ceiling(frozen, truth="position")
    assert abs(reloaded["position_0"] - r2["position_0"]) < 1e-6
