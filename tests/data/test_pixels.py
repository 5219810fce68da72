import torch

from worldmodel.data.pixels import unit_float


def test_uint8_frames_are_scaled_to_unit_range():
    frames = torch.tensor([0, 51, 255], dtype=torch.uint8).reshape(1, 3, 1, 1)
    out = unit_float(frames)
    assert out.dtype == torch.float32
    assert torch.equal(out.flatten(), torch.tensor([0.0, 0.2, 1.0]))
    assert frames.dtype == torch.uint8 and frames.flatten().tolist() == [0, 51, 255]  # divided on a copy


def test_float_frames_keep_their_values():
    frames = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float64)
    out = unit_float(frames)
    assert out.dtype == torch.float32
    assert torch.equal(out, frames.float())
