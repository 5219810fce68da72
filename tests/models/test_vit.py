"""The video ViT (tubelets into timm blocks) and timm backbones loaded from a local safetensors file."""

import pytest
import timm
import torch
from safetensors.torch import save_file
from steps import losses_over_steps

from worldmodel.config import ConfigError, EncoderConfig, load_config
from worldmodel.models import WorldModel
from worldmodel.models.encoders import build_encoder
from worldmodel.models.vit import TimmEncoder, VideoViT

torch.set_num_threads(1)


def random_clips(b=3, k=2, c=3, h=32, w=32, seed=0):
    return torch.randint(0, 256, (b, k, c, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("size, width, heads", [("tiny", 192, 3), ("small", 384, 6)])
def test_sizes_build_timm_blocks_of_their_width_and_heads(size, width, heads):
    vit = VideoViT((2, 3, 32, 32), out_dim=8, size=size, patch=16)
    assert len(vit.blocks) == 12 and vit.width == width
    block = vit.blocks[0]
    assert isinstance(block, timm.models.vision_transformer.Block)
    assert block.attn.num_heads == heads and block.attn.qkv.in_features == width
    assert len(VideoViT((2, 3, 32, 32), out_dim=8, size=size, blocks=3, patch=16).blocks) == 3


def test_any_resolution_divisible_by_the_patch_and_every_frame_is_seen():
    torch.manual_seed(0)
    vit = VideoViT((2, 3, 48, 80), out_dim=8, blocks=2, patch=16, tubelet=2, token_dim=4)
    assert vit.token_shape == (15, 4) and vit.out_dim == 60  # (2/2)·(48/16)·(80/16) tubelets
    clips = random_clips(h=48, w=80)
    out = vit(clips)
    assert out.shape == (3, 60)
    assert torch.allclose(out, vit(clips.float() / 255), atol=1e-5)  # uint8 is scaled inside
    assert torch.allclose(out.reshape(3, 15, 4), vit.head(vit.tokens(clips)), atol=1e-6)  # token n at n·c …
    for j in range(2):  # a tubelet of 2 frames: changing either frame changes the embedding
        moved = clips.clone()
        moved[:, j] = moved[:, j].roll(3, dims=-1)
        assert (vit(moved) - out).abs().max() > 1e-3
    with pytest.raises(ValueError, match=r"frame size 40×40 is not divisible by model.encoder.patch 16"):
        VideoViT((2, 3, 40, 40), out_dim=8, patch=16)
    with pytest.raises(ValueError, match="not divisible by model.encoder.tubelet 2"):
        VideoViT((3, 3, 32, 32), out_dim=8, patch=16, tubelet=2)


def test_vit_tokens_feed_the_token_predictor_with_r_and_a_fixed_batch_is_fitted():
    """The ViT's patch tokens go to the token predictor (r as one more token); 40 steps on one batch cut the loss."""
    torch.manual_seed(0)
    cfg = load_config(None, ["model.encoder.kind=vit", "model.encoder.blocks=1", "model.encoder.patch=8",
                             "model.encoder.token_dim=32", "model.latent.kind=gaussian", "model.latent.dim=2",
                             "model.latent.hidden=32", "model.predictor.kind=tokens", "model.predictor.depth=1",
                             "model.predictor.heads=4"])
    model = WorldModel(cfg, (1, 3, 16, 16))
    assert model.encoder.token_shape == (4, 32) and model.predictor.token_shape == (4, 32)
    assert model.predictor.r_token.in_features == 2
    clips = random_clips(b=32, k=1, h=16, w=16)
    batch = {"context": clips, "target": clips.roll(4, dims=-1)}
    losses = losses_over_steps(model, batch, 40, "ssl", beta=0.01)
    assert losses[-1] < 0.5 * losses[0]


def test_a_timm_backbone_saved_to_safetensors_loads_back_identically_and_frozen_gets_no_gradient(tmp_path):
    torch.manual_seed(0)
    original = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=32).eval()
    save_file(original.state_dict(), str(tmp_path / "vit.safetensors"))
    cfg = EncoderConfig(kind="timm", timm_name="vit_tiny_patch16_224", weights=str(tmp_path / "vit.safetensors"),
                        freeze=True, out_dim=8)
    torch.manual_seed(1)  # another initialisation: only the file makes the two agree
    encoder = build_encoder(cfg, (2, 3, 32, 32))
    assert isinstance(encoder, TimmEncoder) and not encoder.backbone.training
    clips = random_clips()
    frames = (clips.flatten(0, 1).float() / 255 - encoder.mean) / encoder.std
    with torch.no_grad():
        expected = original(frames).reshape(3, -1)
    assert torch.equal(encoder.features(clips), expected)
    unloaded = build_encoder(EncoderConfig(kind="timm", timm_name="vit_tiny_patch16_224", out_dim=8), (2, 3, 32, 32))
    assert (unloaded.features(clips) - expected).abs().max() > 1e-2

    encoder.train()
    assert not encoder.backbone.training  # frozen: BatchNorm statistics and dropout stay as loaded
    encoder(clips).square().sum().backward()
    assert all(p.grad is None for p in encoder.backbone.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.head.parameters())
    tuned = build_encoder(EncoderConfig(kind="timm", timm_name="vit_tiny_patch16_224", weights=cfg.weights,
                                        out_dim=8), (2, 3, 32, 32))
    tuned(clips).square().sum().backward()
    assert tuned.backbone.patch_embed.proj.weight.grad.abs().sum() > 0  # fine-tuned when not frozen


def test_weights_with_a_classifier_or_another_image_size_load_and_a_foreign_file_is_one_line(tmp_path):
    torch.manual_seed(0)
    classifier = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10, img_size=64)
    save_file(classifier.state_dict(), str(tmp_path / "vit64.safetensors"))
    encoder = TimmEncoder((1, 3, 32, 32), 8, "vit_tiny_patch16_224", str(tmp_path / "vit64.safetensors"))
    assert torch.equal(encoder.backbone.blocks[0].attn.qkv.weight, classifier.blocks[0].attn.qkv.weight)
    assert encoder.backbone.pos_embed.shape[1] == 1 + 4  # resampled from 64 px (16 patches) by timm's filter

    resnet = timm.create_model("resnet18", pretrained=False, num_classes=0)
    save_file(resnet.state_dict(), str(tmp_path / "resnet.safetensors"))
    with pytest.raises(ValueError, match=r"^model.encoder.weights: .*resnet.safetensors does not fit VisionTransformer: \d+ missing keys") as err:
        TimmEncoder((1, 3, 32, 32), 8, "vit_tiny_patch16_224", str(tmp_path / "resnet.safetensors"))
    assert "\n" not in str(err.value)
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        TimmEncoder((1, 3, 32, 32), 8, "vit_tiny_patch16_224", str(tmp_path / "notes.txt"))
    with pytest.raises(ValueError, match="'vit_nonexistent' is not a timm model"):
        TimmEncoder((1, 3, 32, 32), 8, "vit_nonexistent")


def test_config_checks_the_new_encoder_options():
    cfg = load_config(None, ["model.encoder.kind=timm", "model.encoder.timm_name=resnet18", "model.encoder.freeze=true"])
    assert cfg.model.encoder.freeze is True
    with pytest.raises(ConfigError, match="'model.encoder.timm_name' is empty"):
        load_config(None, ["model.encoder.kind=timm"])
    with pytest.raises(ConfigError, match="'model.encoder.size' is 'huge'"):
        load_config(None, ["model.encoder.kind=vit", "model.encoder.size=huge"])
    with pytest.raises(ConfigError, match="'model.encoder.patch' is 0"):
        load_config(None, ["model.encoder.patch=0"])


@pytest.mark.cuda
def test_vit_on_cuda_under_bf16_autocast_agrees_with_fp32_on_cpu():
    torch.manual_seed(0)
    vit = VideoViT((2, 3, 32, 32), out_dim=16, blocks=2, patch=8, tubelet=2)
    clips = random_clips()
    expected = vit(clips)
    vit = vit.cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = vit(clips.cuda()).float().cpu()
    assert (out - expected).abs().max() < 0.05 * expected.abs().max()


def test_a_run_on_a_pretrained_backbone_loads_without_its_weights_file(tmp_path):
    """The run's model.safetensors holds the backbone: eval and rollouts need not find the file it started from."""
    import json

    from data_prep.mmnist import generate_mmnist
    from worldmodel.config import load_config
    from worldmodel.train.loop import train
    from worldmodel.train.runs import load_run

    torch.manual_seed(0)
    weights = tmp_path / "resnet.safetensors"
    save_file(timm.create_model("resnet18", pretrained=False, num_classes=0, in_chans=1).state_dict(), str(weights))
    data = generate_mmnist(tmp_path / "data", videos=4, frames=6, size=32, digit_size=12)
    cfg = load_config("configs/mmnist/adassl_v.yaml", [
        f"data.path={data}", "model.encoder.kind=timm", "model.encoder.timm_name=resnet18", f"model.encoder.weights={weights}",
        "model.encoder.freeze=true", "model.encoder.out_dim=16", "model.latent.hidden=16", "model.predictor.hidden=16",
        "objective.hidden=16", "train.steps=2", "train.batch_size=4", "train.threads=1", "train.mixed_precision=no"])
    run = train(cfg, tmp_path / "run")
    in_shape = json.loads((run / "run.json").read_text())["in_shape"]
    clips = torch.randint(0, 256, (2, *in_shape), dtype=torch.uint8)
    with torch.no_grad():
        before = load_run(run)[1].encode(clips)
        weights.unlink()
        _, model = load_run(run)
        assert torch.equal(model.encode(clips), before)
