"""Clip encoders: stacked frames, uint8 scaling inside the model, stems, heads."""

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from worldmodel.config import EncoderConfig
from worldmodel.models.encoders import build_encoder
from worldmodel.models.video_encoders import ConvEncoder, ResNet18Encoder, keypoint_coordinates, stack_frames

torch.set_num_threads(1)


def random_clips(b=3, k=3, c=1, size=32, seed=0):
    return torch.randint(0, 256, (b, k, c, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_stack_frames_puts_frame_j_channel_c_at_j_times_c_plus_c_and_scales_uint8():
    clips = random_clips(b=2, k=3, c=2, size=4)
    images = stack_frames(clips)
    assert images.shape == (2, 6, 4, 4) and images.dtype == torch.float32
    assert torch.equal(images[:, 2 * 2 + 1], clips[:, 2, 1].float() / 255)
    assert images.max() <= 1.0
    floats = torch.rand(2, 3, 2, 4, 4)
    assert torch.equal(stack_frames(floats), floats.reshape(2, 6, 4, 4))


def test_cnn_reads_uint8_like_scaled_floats_and_sees_every_frame():
    torch.manual_seed(0)
    enc = ConvEncoder((3, 1, 32, 32), out_dim=8, width=8)
    clips = random_clips()
    out = enc(clips)
    assert out.shape == (3, 8)
    assert torch.allclose(out, enc(clips.float() / 255), atol=1e-6)
    for j in range(3):  # changing any one frame changes the embedding: motion is visible
        moved = clips.clone()
        moved[:, j] = moved[:, j].roll(2, dims=-1)
        assert (enc(moved) - out).abs().max() > 1e-4


def test_cnn_embeds_each_sample_independently_of_its_batch():
    """GroupNorm, not BatchNorm: a batch split over processes encodes as on one process."""
    torch.manual_seed(0)
    enc = ConvEncoder((2, 1, 32, 32), out_dim=4, width=8)
    clips = random_clips(b=4, k=2)
    assert torch.allclose(enc(clips)[:2], enc(clips[:2]), atol=1e-6)


def test_cnn_rejects_frames_not_a_multiple_of_16():
    with pytest.raises(ValueError, match="multiple of 16"):
        ConvEncoder((1, 1, 40, 40), out_dim=4)


def test_resnet18_stem_for_small_frames_and_stacked_channels():
    torch.manual_seed(0)
    enc = build_encoder(EncoderConfig(kind="resnet18", out_dim=16), (3, 2, 32, 32))
    assert isinstance(enc, ResNet18Encoder) and enc.out_dim == 16
    conv1 = enc.backbone.conv1
    assert (conv1.in_channels, conv1.kernel_size, conv1.stride) == (6, (3, 3), (1, 1))
    assert isinstance(enc.backbone.maxpool, nn.Identity)
    assert enc(random_clips(b=2, k=3, c=2)).shape == (2, 16)
    backbone_params = sum(p.numel() for p in enc.backbone.parameters())
    assert backbone_params == 11_176_512 - 3 * 64 * 7 * 7 + 6 * 64 * 3 * 3  # ResNet-18 minus fc, new stem


def test_projector_head_and_builder_errors():
    enc = build_encoder(EncoderConfig(kind="cnn", out_dim=5, width=8, projector_hidden=12), (1, 3, 16, 16))
    assert [type(m) for m in enc.head] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert enc.head[0].in_features == 64 * 1 * 1 and enc.head[-1].out_features == 5
    assert isinstance(build_encoder(EncoderConfig(kind="cnn", width=8), (3, 16, 16)).head, nn.Linear)  # images
    with pytest.raises(ValueError, match=r"needs clips \(k, C, H, W\)"):
        build_encoder(EncoderConfig(kind="cnn"), (10,))


def test_cnn_token_embedding_lays_out_each_cell_as_one_token():
    torch.manual_seed(0)
    enc = ConvEncoder((3, 1, 32, 32), out_dim=99, width=4, token_dim=5)
    assert enc.token_shape == (4, 5) and enc.out_dim == 20
    x = random_clips()
    feature_map = enc.head[0](enc.backbone(stack_frames(x)))  # (B, 5, 2, 2)
    tokens = enc(x).reshape(3, 4, 5)
    assert torch.allclose(tokens[:, 1], feature_map[:, :, 0, 1], atol=1e-6)
    assert torch.allclose(tokens[:, 2], feature_map[:, :, 1, 0], atol=1e-6)


def test_cnn_with_separate_frames_concatenates_one_shared_cnn_per_frame_in_time_order():
    torch.manual_seed(0)
    enc = build_encoder(EncoderConfig(kind="cnn", width=8, out_dim=5, frames="separate"), (3, 2, 32, 32))
    clips = random_clips(b=4, k=3, c=2)
    per_frame = [enc.backbone(stack_frames(clips[:, j])) for j in range(3)]  # (B, F) each
    assert enc.backbone[0][0].in_channels == 2 and enc.head.in_features == 3 * per_frame[0].shape[1]
    assert torch.allclose(enc(clips), enc.head(torch.cat(per_frame, 1)), atol=1e-5)
    assert torch.allclose(enc(clips)[:2], enc(clips[:2]), atol=1e-6)
    swapped = clips[:, [1, 0, 2]]  # frame order matters: the head tells the frames apart
    assert (enc(swapped) - enc(clips)).abs().max() > 1e-4


def test_cnn_frames_option_is_checked():
    with pytest.raises(ValueError, match="frames 'sideways'"):
        ConvEncoder((3, 1, 32, 32), out_dim=4, frames="sideways")
    with pytest.raises(ValueError, match="not tokens"):
        ConvEncoder((3, 1, 32, 32), out_dim=4, frames="separate", token_dim=4)


def test_keypoint_coordinates_are_the_softmax_expectation_in_cells_from_the_centre():
    cols, rows = torch.arange(8.0), torch.arange(6.0)[:, None]
    peaked = torch.full((1, 2, 6, 8), -50.0)
    peaked[0, 0, 5, 3] = 50.0  # one hot cell: column 3, row 5
    peaked[0, 1] = -((cols - 4.3) ** 2 + (rows - 1.6) ** 2)  # a smooth bump between cells
    points = keypoint_coordinates(peaked)
    assert torch.allclose(points[0, 0], torch.tensor([3 - 3.5, 5 - 2.5]), atol=1e-4)
    assert torch.allclose(points[0, 1], torch.tensor([4.3 - 3.5, 1.6 - 2.5]), atol=0.05)


def test_cnn_keypoints_are_each_frames_features():
    torch.manual_seed(0)
    enc = build_encoder(EncoderConfig(kind="cnn", width=8, out_dim=5, frames="separate", keypoints=4), (3, 1, 32, 32))
    clips = random_clips(b=2, k=3)
    frame = stack_frames(clips[:, 1])
    heatmaps = enc.backbone[:3](frame)  # (B, K, 8, 8): two blocks, then the heatmap convolution
    assert heatmaps.shape == (2, 4, 8, 8) and enc.head.in_features == 3 * 2 * 4
    assert torch.allclose(enc.backbone(frame), keypoint_coordinates(heatmaps).flatten(1), atol=1e-6)
    assert torch.allclose(enc(clips)[:1], enc(clips[:1]), atol=1e-6)


def test_cnn_keypoints_need_a_feature_vector():
    with pytest.raises(ValueError, match="keypoints"):
        ConvEncoder((1, 32, 32), out_dim=4, token_dim=4, keypoints=2)


def test_standardised_embedding_has_unit_spread_per_coordinate_in_training_and_running_stats_at_eval():
    torch.manual_seed(0)
    plain = build_encoder(EncoderConfig(kind="cnn", width=8, out_dim=4), (2, 1, 32, 32))
    torch.manual_seed(0)
    enc = build_encoder(EncoderConfig(kind="cnn", width=8, out_dim=4, standardise=True), (2, 1, 32, 32))
    assert enc.out_dim == 4 and enc.token_shape is None
    clips = random_clips(b=64, k=2)
    raw = plain(clips)
    z = enc(clips)
    torch.testing.assert_close(z.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(0, unbiased=False), torch.ones(4), atol=1e-3, rtol=0)
    torch.testing.assert_close(z, (raw - raw.mean(0)) / raw.var(0, unbiased=False).add(1e-5).sqrt(), atol=1e-4, rtol=0)
    enc.eval()
    norm = enc.norm
    expected = (raw - norm.running_mean) / norm.running_var.add(1e-5).sqrt()
    torch.testing.assert_close(enc(clips), expected, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="standardise works on vector embeddings"):
        build_encoder(EncoderConfig(kind="cnn", width=8, token_dim=4, standardise=True), (2, 1, 32, 32))


def test_a_saved_cnn_loads_back_and_its_frozen_backbone_gets_no_gradient(tmp_path):
    torch.manual_seed(0)
    cfg = EncoderConfig(kind="cnn", width=8, out_dim=16)
    trained = build_encoder(cfg, (2, 3, 32, 32)).eval()
    weights = tmp_path / "cnn.safetensors"
    save_file(trained.state_dict(), str(weights))
    torch.manual_seed(1)  # another initialisation, which the weights replace
    loaded = build_encoder(EncoderConfig(kind="cnn", width=8, out_dim=16, weights=str(weights), freeze=True), (2, 3, 32, 32))
    x = torch.randint(0, 256, (4, 2, 3, 32, 32), dtype=torch.uint8)
    assert torch.allclose(loaded(x), trained(x), atol=1e-6)  # the same encoder
    loaded(x).square().sum().backward()
    assert all(p.grad is None for p in loaded.backbone.parameters())
    assert sum(p.grad.abs().sum() for p in loaded.head.parameters()) > 0  # only the head learns
    with pytest.raises(ValueError, match=r"^model.encoder.weights: .*cnn.safetensors does not fit ConvEncoder: "):
        build_encoder(EncoderConfig(kind="cnn", width=16, out_dim=16, weights=str(weights)), (2, 3, 32, 32))
