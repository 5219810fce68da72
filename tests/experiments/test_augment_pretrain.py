"""experiments/augment_pretrain.py: SimCLR's loss equals its textbook form, a clip's frames get one
augmentation, and on small moving digits the loss falls and the frozen encoder reads the position."""

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from data_prep.mmnist import generate_mmnist
from worldmodel.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
from augment_pretrain import ClipAugment, nt_xent, pretrain  # noqa: E402
from supervised_ceiling import frozen_readouts  # noqa: E402


def test_nt_xent_matches_simclrs_formula():
    torch.manual_seed(0)
    z1, z2, tau = torch.randn(6, 4), torch.randn(6, 4), 0.3
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / tau
    sim.fill_diagonal_(float("-inf"))  # a view is never its own negative
    positive = torch.cat([torch.arange(6, 12), torch.arange(6)])
    expected = F.cross_entropy(sim, positive)
    assert torch.allclose(nt_xent(z1, z2, tau), expected, atol=1e-6)


def test_every_frame_of_a_clip_gets_the_same_view():
    torch.manual_seed(0)
    frame = torch.randint(0, 256, (5, 1, 3, 16, 16), dtype=torch.uint8)
    views = ClipAugment((16, 16))(frame.expand(5, 3, 3, 16, 16))
    assert torch.allclose(views[:, 0], views[:, 1], atol=1e-6) and torch.allclose(views[:, 1], views[:, 2], atol=1e-6)
    assert (views[0, 0] - views[1, 0]).abs().mean() > 0.05  # clips differ in their draws
    assert views.min() >= 0 and views.max() <= 1


def test_pretraining_lowers_the_loss_and_the_encoder_keeps_the_position(tmp_path):
    data = generate_mmnist(tmp_path / "data", videos=16, frames=12, size=32, digit_size=12, accel_prob=0.5)
    cfg = load_config("configs/mmnist/byol.yaml", [f"data.path={data}", "data.generator=null", "train.batch_size=32",
                                                   "model.encoder.width=8", "model.encoder.out_dim=32", "optim.warmup_steps=5"])
    encoder, losses = pretrain(cfg, steps=60)
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10
    from worldmodel.data import build_dataset
    r2 = frozen_readouts(encoder, build_dataset(cfg.data, "train"), build_dataset(cfg.data, "test"), truth="position")
    assert min(r2["position_0"], r2["position_1"]) > 0.3
