import pytest
import torch
from safetensors.torch import save_file
from torchvision.models.video import r2plus1d_18, r3d_18

from worldmodel.config import EncoderConfig
from worldmodel.models.encoders import build_encoder
from worldmodel.models.video_resnets import VideoResNetEncoder


def clips(b=2, k=2, c=1, size=32):
    return torch.randint(0, 256, (b, k, c, size, size), dtype=torch.uint8)


@pytest.mark.parametrize("arch", ["r3d_18", "mc3_18", "r2plus1d_18"])
def test_every_architecture_encodes_short_clips_of_grey_or_colour_frames(arch):
    torch.manual_seed(0)
    for k, c in ((1, 1), (2, 3)):
        enc = build_encoder(EncoderConfig(kind="video_resnet", arch=arch, out_dim=8), (k, c, 32, 32))
        assert isinstance(enc, VideoResNetEncoder)
        out = enc(clips(k=k, c=c))
        assert out.shape == (2, 8) and torch.isfinite(out).all()


def test_a_state_dict_saved_from_torchvision_loads_and_frozen_backbone_gets_no_gradient(tmp_path):
    torch.manual_seed(1)
    reference = r3d_18(num_classes=400).eval()
    weights = tmp_path / "r3d_18.safetensors"
    save_file(reference.state_dict(), str(weights))
    enc = VideoResNetEncoder((2, 3, 32, 32), out_dim=8, weights=str(weights), freeze=True)
    for name, value in enc.backbone.state_dict().items():
        assert torch.equal(value, reference.state_dict()[name]), name
    x = clips(k=2, c=3)
    normalised = (x.float().div(255).transpose(1, 2) - enc.mean) / enc.std
    reference.fc = torch.nn.Identity()
    assert torch.allclose(enc.backbone(normalised), reference(normalised), atol=1e-5)  # the same network
    enc.train()
    assert not enc.backbone.training  # frozen: BatchNorm statistics stay as loaded
    enc(x).square().sum().backward()
    assert all(p.grad is None for p in enc.backbone.parameters())
    assert enc.head.weight.grad.abs().sum() > 0


def test_weights_of_another_architecture_are_refused_in_one_line(tmp_path):
    weights = tmp_path / "r2plus1d.safetensors"
    save_file(r2plus1d_18().state_dict(), str(weights))
    with pytest.raises(ValueError, match=r"^model.encoder.weights: .*r2plus1d.safetensors does not fit VideoResNet: ") as err:
        VideoResNetEncoder((2, 3, 32, 32), out_dim=8, arch="r3d_18", weights=str(weights))
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="reads RGB or greyscale frames; the data has 2 channels"):
        VideoResNetEncoder((2, 2, 32, 32), out_dim=8)
