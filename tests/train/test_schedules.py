"""The learning-rate schedules: linear warm-up, then a cosine to 0 (the shipped configs) or constant.

``optim.schedule=constant`` is kept for runs whose length is not fixed in advance (a run continued
with a larger ``train.steps``, or fine-tuning a loaded model), where a cosine would already have
brought the rate to 0."""

import math

import pytest

from worldmodel.train.schedules import lr_factor


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_warmup_rises_linearly_to_the_full_rate(schedule):
    assert [lr_factor(s, 4, 100, schedule) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]


def test_cosine_falls_from_one_to_zero_and_constant_stays_at_one():
    cosine = [lr_factor(s, 10, 110, "cosine") for s in range(10, 111)]
    assert cosine[0] == 1.0 and cosine[-1] == pytest.approx(0.0, abs=1e-12)
    assert cosine[50] == pytest.approx(0.5) and all(a >= b for a, b in zip(cosine, cosine[1:]))
    assert lr_factor(35, 10, 110, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert {lr_factor(s, 10, 110, "constant") for s in range(10, 200)} == {1.0}
