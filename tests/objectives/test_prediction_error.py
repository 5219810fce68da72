import pytest
import torch
from sklearn.metrics import r2_score

from worldmodel.config import load_config
from worldmodel.models.world_model import WorldModel
from worldmodel.objectives.prediction_error import coordinate_prediction_error, embedding_prediction_error


def test_embedding_error_is_one_minus_the_pooled_r2_of_the_prediction():
    torch.manual_seed(0)
    target = torch.randn(1, 64, 5) * torch.tensor([1.0, 3.0, 0.5, 2.0, 1.0])
    pred = target + 0.3 * torch.randn(1, 64, 5)
    r2 = r2_score(target[0].numpy(), pred[0].numpy(), multioutput="variance_weighted")
    assert abs(embedding_prediction_error(pred, target).item() - (1 - r2)) < 1e-5
    assert embedding_prediction_error(target, target).item() == 0


def test_embedding_error_ignores_the_scale_and_passes_no_gradient_to_the_target():
    torch.manual_seed(1)
    target = torch.randn(2, 32, 4, requires_grad=True)
    pred = torch.randn(2, 32, 4, requires_grad=True)
    error = embedding_prediction_error(pred, target)
    torch.testing.assert_close(embedding_prediction_error(10 * pred, 10 * target), error)
    error.backward()
    assert target.grad is None and pred.grad.abs().sum() > 0


def test_coordinate_error_is_the_mean_of_each_coordinates_one_minus_r2():
    torch.manual_seed(2)
    target = torch.randn(1, 64, 5) * torch.tensor([1.0, 3.0, 0.5, 2.0, 1.0])
    pred = target + 0.3 * torch.randn(1, 64, 5)
    r2 = r2_score(target[0].numpy(), pred[0].numpy(), multioutput="raw_values")
    assert abs(coordinate_prediction_error(pred, target).item() - (1 - r2).mean()) < 1e-5


def test_coordinate_error_weighs_a_narrow_axis_as_much_as_a_wide_one():
    """Shrinking one axis of pred and target 10× leaves the per-coordinate error unchanged; the pooled
    error then hardly sees that axis's misses."""
    torch.manual_seed(3)
    target = torch.randn(2, 128, 3)
    pred = target.clone()
    pred[..., 0] = target[..., 0].mean(dim=1, keepdim=True)  # coordinate 0 predicted by its mean: 1 − R² = 1
    narrow = torch.tensor([0.1, 1.0, 1.0])
    assert coordinate_prediction_error(pred, target).item() == pytest.approx(1 / 3, rel=1e-4)
    assert coordinate_prediction_error(pred * narrow, target * narrow).item() == pytest.approx(1 / 3, rel=1e-4)
    assert embedding_prediction_error(pred * narrow, target * narrow).item() < 0.01


def test_coordinate_error_floors_the_spread_of_a_dead_coordinate():
    """A coordinate constant over the batch is scored against 10⁻³ of the mean spread, not 10⁻¹²."""
    torch.manual_seed(4)
    target = torch.randn(1, 64, 3)
    target[..., 2] = 0.5
    pred = target.clone()
    pred[..., 2] += 0.01  # a miss of 0.01 on the dead coordinate
    floor = 1e-3 * (target - target.mean(dim=1, keepdim=True)).pow(2).sum(dim=(0, 1)).mean()
    assert coordinate_prediction_error(pred, target).item() == pytest.approx(64 * 0.01**2 / floor.item() / 3, rel=1e-3)


def test_coordinate_fit_trains_the_predictor_and_gives_the_encoder_no_gradient():
    """With r the given action (no posterior reading f), the term's only paths are the predictor's
    weights: the encoder's gradient is that of the run without it, the loss grows by κ · E_coord."""
    overrides = ["model.latent.kind=oracle", "model.latent.dim=2", "model.predictor.kind=mlp"]
    cfg = load_config("configs/numerical/adassl_v.yaml", [*overrides, "objective.coordinate_fit_weight=2"])
    torch.manual_seed(0)
    model = WorldModel(cfg, (cfg.data.generator_args.get("dim", 6),))
    width = model.encoder.net[0].in_features
    batch = {"context": torch.randn(32, width), "target": torch.randn(32, width), "action": torch.randn(32, 2)}
    grads = {}
    for weight in (2.0, 0.0):
        model.zero_grad()
        model.coordinate_fit_weight = weight
        torch.manual_seed(1)
        out = model(batch, beta=1.0)
        out["loss"].backward()
        grads[weight] = ({n: p.grad.clone() for n, p in model.encoder.named_parameters()},
                         torch.cat([p.grad.flatten() for p in model.predictor.parameters()]), out)
    (enc_k, pred_k, out_k), (enc_0, pred_0, out_0) = grads[2.0], grads[0.0]
    for name in enc_k:
        torch.testing.assert_close(enc_k[name], enc_0[name])
    assert (pred_k - pred_0).abs().max() > 1e-4
    assert out_k["coordinate_fit"].item() > 0
    assert out_k["loss"].item() == pytest.approx(out_0["loss"].item() + 2 * out_k["coordinate_fit"].item(), rel=1e-5)
