"""The pixel decoder on its own: it learns an identity-like map, and saves and reloads exactly."""

import numpy as np
import pytest
import torch

from worldmodel.decode.data import DecoderData
from worldmodel.decode.fit import FitConfig, train_decoder
from worldmodel.decode.model import DecoderConfig, FrameDecoder
from worldmodel.decode.quality import centre_of_mass, frame_psnr, future_scores
from worldmodel.decode.store import read_decoder, save_decoder


def squares(count: int, size: int = 16, side: int = 4, seed: int = 0) -> torch.Tensor:
    """(count, 1, size, size) uint8 frames, each a bright side×side square at a random place."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((count, 1, size, size), np.uint8)
    for frame, (y, x) in zip(frames, rng.integers(0, size - side + 1, (count, 2))):
        frame[0, y : y + side, x : x + side] = 255
    return torch.from_numpy(frames)


def identity_data(frames: torch.Tensor) -> DecoderData:
    """Each frame's own pixels as its embedding."""
    return DecoderData(frames.flatten(1).float() / 255, torch.arange(len(frames)), frames, torch.zeros(len(frames), dtype=torch.long))


def test_decoder_learns_an_identity_like_map():
    frames = squares(64, size=32, side=8)
    data = identity_data(frames)
    decoder = FrameDecoder(DecoderConfig(32 * 32, (1, 32, 32), None, width=16))
    decoder.standardise_with(data.inputs)
    truth = frames.float() / 255
    baseline = frame_psnr(truth.mean(0).expand_as(truth), truth).mean()  # the mean frame: about 12.5 dB
    before = frame_psnr(decoder.decode(data.inputs), truth).mean()
    state = train_decoder(decoder, data, FitConfig(steps=150, batch_size=32, lr=5e-3, warmup_steps=10, weight_decay=0, width=16))
    decoded = decoder.decode(data.inputs)
    after = frame_psnr(decoded, truth).mean()
    assert before < baseline and after > baseline + 5, (before, baseline, after)
    assert np.mean(state["losses"][-10:]) < 0.2 * np.mean(state["losses"][:10])


def test_token_embeddings_decode_from_their_grid():
    decoder = FrameDecoder(DecoderConfig(4 * 6, (3, 32, 32), (4, 6), width=16))
    frames = decoder.decode(torch.randn(5, 24))
    assert frames.shape == (5, 3, 32, 32) and 0 <= frames.min() and frames.max() <= 1
    with pytest.raises(ValueError, match="tokens"):
        FrameDecoder(DecoderConfig(5 * 6, (3, 32, 32), (5, 6)))


def test_saved_and_reloaded_decoder_gives_identical_frames(tmp_path):
    decoder = FrameDecoder(DecoderConfig(12, (1, 32, 48), None, width=16))
    decoder.standardise_with(torch.randn(50, 12) * 3 + 1)
    with torch.no_grad():
        for p in decoder.parameters():
            p.add_(0.1 * torch.randn_like(p))
    save_decoder(tmp_path, decoder, {"model_sha256": "abc"})
    again = read_decoder(tmp_path)
    x = torch.randn(7, 12)
    assert torch.equal(decoder.eval().decode(x), again.decode(x))
    assert again.cfg == decoder.cfg and again.decode(x).shape == (7, 1, 32, 48)


def test_centre_of_mass_reads_pixel_coordinates_over_a_hazy_background():
    frame = torch.full((1, 1, 9, 12), 0.1)
    frame[0, 0, 3, 5] = frame[0, 0, 3, 7] = 1.0  # two bright pixels on row 3, columns 5 and 7
    assert torch.allclose(centre_of_mass(frame), torch.tensor([[6.0, 3.0]]))


def test_future_scores_best_of_n_finds_the_true_future():
    truth = torch.rand(3, 5, 1, 16, 16)
    samples = torch.rand(4, 3, 5, 1, 16, 16)
    samples[2] = truth
    scores = future_scores(samples, torch.rand(3, 5, 1, 16, 16), truth, truth.mean((0, 1)))
    assert all(scores[f"pixel_rmse_best_of_n_h{h}"] == 0 for h in range(1, 5))
    assert all(scores[f"pixel_rmse_prior_mean_h{h}"] > 0.3 for h in range(1, 5))
    assert scores["pixel_psnr_copy_last_h1"] < 15 and scores["pixel_diversity_h1"] > 0.3
