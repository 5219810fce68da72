"""The augment term (SimCLR on two views of a clip): its loss is SimCLR's formula, a clip's frames get one
view, and in a world model it adds α times itself to the loss and trains the encoder."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from data_prep.mmnist import generate_mmnist
from steps import losses_over_steps
from worldmodel.config import load_config
from worldmodel.data import build_dataset
from worldmodel.models.world_model import WorldModel
from worldmodel.objectives.augment import ClipAugment, nt_xent


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
    floats = ClipAugment((16, 16))(frame.float().div(255).expand(5, 3, 3, 16, 16))  # float clips in [0, 1] too
    assert floats.min() >= 0 and floats.max() <= 1 and floats.std() > 0.05


def _digits_model(tmp_path, *overrides: str):
    data = generate_mmnist(tmp_path / "data", videos=8, frames=8, size=32, digit_size=12)
    cfg = load_config("configs/mmnist/adassl_v.yaml", [f"data.path={data}", "data.generator=null", "model.encoder.width=8",
                                                        "model.encoder.out_dim=32", *overrides])
    batch = build_dataset(cfg.data, "train").__getitems__(list(range(16)))
    return WorldModel(cfg, tuple(batch["context"].shape[1:])), batch


def test_world_model_adds_alpha_times_the_augment_term_and_it_reaches_the_encoder(tmp_path):
    model, batch = _digits_model(tmp_path, "objective.augment_weight=0.5")
    torch.manual_seed(1)
    out = model(batch, beta=1.0)
    torch.manual_seed(1)
    model.augment_weight = 0.0
    plain = model(batch, beta=1.0)
    model.augment_weight = 0.5
    assert out["augment_term"].item() > 1.0  # about ln(2B − 1) for an untrained head
    assert out["loss"].item() == pytest.approx(plain["loss"].item() + 0.5 * out["augment_term"].item(), rel=1e-4)
    model.zero_grad()
    model.augment_contrast(model.encoder, batch["context"]).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.augment_contrast.head.parameters())
    assert sum(p.grad.abs().sum() for p in model.encoder.parameters() if p.grad is not None) > 0


def test_training_with_the_augment_term_lowers_it(tmp_path):
    model, batch = _digits_model(tmp_path, "objective.augment_weight=1")
    losses = losses_over_steps(model, batch, 40, "augment_term")
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_the_augment_term_on_data_that_are_not_clips_is_one_line():
    cfg = load_config("configs/numerical/adassl_v.yaml", ["objective.augment_weight=1"])
    with pytest.raises(ValueError, match="objective.augment_weight augments clips"):
        WorldModel(cfg, (6,))


def test_the_augment_module_imports_first_in_a_fresh_interpreter():
    """objectives must not import models (models import objectives): a cycle shows only when this module comes first."""
    subprocess.run([sys.executable, "-c", "import worldmodel.objectives.augment"], check=True)
