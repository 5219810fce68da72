"""experiments/augment_pretrain.py: on small moving digits the loss falls and the frozen encoder reads the
position (the term itself: tests/objectives/test_augment.py)."""

import sys
from pathlib import Path

from data_prep.mmnist import generate_mmnist
from worldmodel.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
from augment_pretrain import pretrain  # noqa: E402
from supervised_ceiling import frozen_readouts  # noqa: E402


def test_pretraining_lowers_the_loss_and_the_encoder_keeps_the_position(tmp_path):
    data = generate_mmnist(tmp_path / "data", videos=16, frames=12, size=32, digit_size=12, accel_prob=0.5)
    cfg = load_config("configs/mmnist/byol.yaml", [f"data.path={data}", "data.generator=null", "train.batch_size=32",
                                                   "model.encoder.width=8", "model.encoder.out_dim=32", "optim.warmup_steps=5"])
    encoder, losses = pretrain(cfg, steps=60)
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10
    from worldmodel.data import build_dataset
    r2 = frozen_readouts(encoder, build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test"), truth="position")
    assert min(r2["position_0"], r2["position_1"]) > 0.3
