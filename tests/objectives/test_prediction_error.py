import torch
from sklearn.metrics import r2_score

from worldmodel.objectives.prediction_error import embedding_prediction_error


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
