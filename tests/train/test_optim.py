"""The optimiser's parameter groups: weight decay on matrices only, when asked."""

import torch
from torch import nn

from worldmodel.train.optim import weight_decay_groups


def test_without_decay_1d_biases_and_norm_parameters_are_not_decayed():
    """A step with zero gradients is pure decoupled weight decay: θ ← θ (1 − lr·wd) for the decayed
    parameters; the 1-D ones (biases, BatchNorm scale and shift) stay as they were."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    with torch.no_grad():
        net[1].weight.normal_()
        net[1].bias.normal_()
    groups = weight_decay_groups(net.parameters(), 0.5, decay_1d=False)
    assert [g["weight_decay"] for g in groups] == [0.5, 0.0]
    assert {id(p) for p in groups[0]["params"]} == {id(net[0].weight), id(net[2].weight)}
    assert len(groups[1]["params"]) == 4  # two Linear biases, BatchNorm weight and bias
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.AdamW(groups, lr=0.1)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for p, old in zip(net.parameters(), before):
        assert torch.allclose(p, old * (1 - 0.1 * 0.5) if p.ndim == 2 else old, atol=1e-7)


def test_with_decay_1d_every_parameter_is_in_one_decayed_group():
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
    (group,) = weight_decay_groups(net.parameters(), 0.01)
    assert group["weight_decay"] == 0.01 and len(group["params"]) == 4
    assert len(weight_decay_groups([net[0].weight], 0.01, decay_1d=False)) == 1  # an empty group is left out
