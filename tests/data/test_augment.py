"""ClipAugment: one draw per clip (and pair), float output in [0, 1]."""

from __future__ import annotations

import pytest
import torch

from worldmodel.data.augment import ClipAugment, to_float


def clips(b=6, k=3, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    frame = torch.randint(0, 256, (b, 1, c, 32, 32), dtype=torch.uint8, generator=g)
    return frame.expand(b, k, c, 32, 32).contiguous()


def test_to_float_scales_to_unit_range():
    x = torch.tensor([0, 51, 255], dtype=torch.uint8)
    assert to_float(x).tolist() == pytest.approx([0.0, 0.2, 1.0])


def test_one_draw_for_every_frame_of_a_clip_and_its_target():
    torch.manual_seed(0)
    x = clips()
    augment = ClipAugment((32, 32), crop_scale=(0.4, 0.8), flip=True, brightness=0.3, saturation=0.3)
    context, target = augment(x, x.clone())
    assert context.shape == x.shape and context.dtype == torch.float32
    assert 0 <= context.min() and context.max() <= 1
    assert torch.equal(context, target)
    assert torch.equal(context[:, 0], context[:, 2])
    assert (context - to_float(x)).abs().mean() > 0.05  # it did change the frames
    assert (context[0] - context[1]).abs().mean() > 0.05  # different draws per clip


def test_independent_draws_for_context_and_target():
    torch.manual_seed(0)
    x = clips()
    context, target = ClipAugment((32, 32), crop_scale=(0.3, 0.6), same_on_pair=False)(x, x.clone())
    assert (context - target).abs().mean() > 0.05


def test_colour_jitter_on_grey_frames_is_refused():
    with pytest.raises(ValueError, match="needs 3 channels"):
        ClipAugment((32, 32), hue=0.1)(clips(c=1), clips(c=1))
