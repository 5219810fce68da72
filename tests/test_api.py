"""The Python API (worldmodel.api): README's example run verbatim, a save/load round trip that
changes no output, inputs in the dataset's or channels-last format, one-line errors."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import worldmodel
from faults import make_data, tiny_config
from worldmodel.api import PretrainedWorldModel
from worldmodel.config import load_config
from worldmodel.eval.evaluate import evaluate_run
from worldmodel.models import WorldModel
from worldmodel.train.loop import train

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """The python block of README.md's "## Python API" section."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Python API\n(.*?)(?=^## )", readme, re.S | re.M)
    assert section, "README.md has no '## Python API' section"
    block = re.search(r"```python\n(.*?)```", section.group(1), re.S)
    assert block, "README.md's '## Python API' section has no ```python block (docs/api.md holds the example)"
    return block.group(1)


def test_the_readme_example_runs_verbatim(tmp_path):
    env = os.environ | {"TMPDIR": str(tmp_path)}  # the example's tempfile.mkdtemp() lands in pytest's folder
    done = subprocess.run([sys.executable, "-c", readme_example()], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == ("torch.Size([8, 128]) torch.Size([8, 6]) "
                                                    "torch.Size([16, 8, 4, 128]) (16, 8, 4, 6)")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A trained and evaluated tiny AdaSSL-V run (gaussian latent, BYOL target) on 4-d numerical data."""
    folder = tmp_path_factory.mktemp("api")
    data = make_data(folder / "data")
    run = train(tiny_config(data, 30, "train.log_with=none", "train.log_every=10"), folder / "run")
    evaluate_run(run)
    return run


def outputs(wm: PretrainedWorldModel, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    futures = wm.sample_futures(x, n=5, horizon=3, seed=7)
    return {"embed": wm.embed(x), "r_mean": wm.infer_r(x, y, seed=3)[0], "r_draw": wm.infer_r(x, y, seed=3)[1],
            "futures": futures, "decoded": torch.from_numpy(wm.decode_probes(futures)["z"])}


def test_save_and_load_pretrained_round_trip_changes_no_output(run, tmp_path):
    wm = worldmodel.load(run)
    pairs = wm.pairs("test", 32)
    x, y = pairs["context"], pairs["target"]
    before = outputs(wm, x, y)
    again = worldmodel.from_pretrained(wm.save_pretrained(tmp_path / "export"))
    after = outputs(again, x, y)
    assert again.config == wm.config and again.in_shape == wm.in_shape == (4,)
    for key in before:
        assert torch.equal(before[key], after[key]), key
    assert before["futures"].shape == (5, 32, 4, 4) and before["r_draw"].shape == (32, 4)
    # the probe reads the true latent z off the embeddings it was fitted on (4 dims of numerical z)
    z = wm.decode_probes(wm.embed(x))["z"]
    assert np.corrcoef(z.ravel(), pairs["gt_z"].numpy().ravel())[0, 1] > 0.5


def test_seeds_repeat_draws_and_the_draws_scatter_around_the_posterior_mean(run):
    wm = worldmodel.load(run)
    pairs = wm.pairs("test", 16)
    x, y = pairs["context"], pairs["target"]
    assert torch.equal(wm.sample_futures(x, 3, 2, seed=1), wm.sample_futures(x, 3, 2, seed=1))
    assert not torch.equal(wm.sample_futures(x, 3, 2, seed=1), wm.sample_futures(x, 3, 2, seed=2))
    futures = wm.sample_futures(x, 3, 2, seed=1)
    assert torch.allclose(futures[:, :, 0], wm.embed(x).expand(3, -1, -1))  # step 0 is the context's embedding
    mean = wm.infer_r(x, y)[0]
    draws = torch.stack([wm.infer_r(x, y, seed=s)[1] for s in range(400)])
    spread = draws.std(0)
    assert spread.min() > 0
    assert ((draws.mean(0) - mean).abs() < 4 * spread / 20).all()  # within 4 standard errors of 400 draws
    state = torch.random.get_rng_state()
    wm.infer_r(x, y, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # a seeded call leaves the global RNG alone


def clip_model() -> PretrainedWorldModel:
    cfg = load_config(None, ["data.kind=frames", "model.encoder.kind=cnn", "model.encoder.width=4",
                             "model.encoder.out_dim=8"])
    torch.manual_seed(0)
    return PretrainedWorldModel(cfg, WorldModel(cfg, (2, 3, 32, 32)).eval(), (2, 3, 32, 32))


def test_clips_in_the_datasets_format_channels_last_or_float_embed_alike():
    wm = clip_model()
    clips = torch.randint(0, 256, (4, 2, 3, 32, 32), dtype=torch.uint8)  # (B, k, C, H, W), as FramePairs yields
    e = wm.embed(clips)
    assert e.shape == (4, 8)
    assert torch.equal(wm.embed(clips.permute(0, 1, 3, 4, 2).numpy()), e)  # (B, k, H, W, C) numpy
    assert torch.allclose(wm.embed(clips.float() / 255), e, atol=1e-6)
    assert not torch.allclose(wm.embed(clips[[1, 0, 2, 3]]), e)


def test_bad_inputs_and_folders_are_one_line_naming_them(tmp_path):
    wm = clip_model()
    with pytest.raises(ValueError) as err:
        wm.embed(torch.zeros(4, 2, 32, 32))
    assert str(err.value) == ("x: shape (4, 2, 32, 32); this model expects (B, 2, 3, 32, 32) "
                              "or channels-last (B, 2, 32, 32, 3)")
    with pytest.raises(FileNotFoundError, match=r"not a saved world model \(missing config.json\)"):
        worldmodel.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="no folder with probes"):
        wm.decode_probes(torch.zeros(1, 8))


def test_import_worldmodel_is_cheap():
    done = subprocess.run([sys.executable, "-c", "import sys, worldmodel; print('torch' in sys.modules)"],
                          capture_output=True, text=True)
    assert done.stdout.strip() == "False"


def test_decode_pixels_reads_the_decoder_saved_with_the_model(tmp_path):
    """A pixel decoder in a saved folder (as save_pretrained copies a run's decoder/) decodes embeddings of
    any leading shape exactly as the decoder module itself does."""
    from worldmodel.decode import DecoderConfig, DecoderError, FrameDecoder
    from worldmodel.decode.store import save_decoder

    wm = clip_model()
    with pytest.raises(DecoderError, match="no fitted pixel decoder"):
        wm.decode_pixels(torch.zeros(1, 8))
    clips = torch.randint(0, 256, (4, 2, 3, 32, 32), dtype=torch.uint8)
    futures = wm.sample_futures(clips, n=2, horizon=1, seed=0)  # (2, 4, 2, 8); no latent: the futures agree
    torch.manual_seed(1)
    decoder = FrameDecoder(DecoderConfig(embed_dim=8, frame_shape=(3, 32, 32), width=16)).eval()
    decoder.standardise_with(futures.reshape(-1, 8))
    folder = wm.save_pretrained(tmp_path / "export")
    save_decoder(folder / "decoder", decoder, {})
    frames = worldmodel.from_pretrained(folder).decode_pixels(futures)
    assert frames.shape == (2, 4, 2, 3, 32, 32) and 0 <= frames.min() and frames.max() <= 1
    assert torch.equal(frames, decoder.decode(futures))
    assert frames[0, 0, 0].std() > 0 and not torch.equal(frames[0, 0], frames[0, 1])
    again = worldmodel.from_pretrained(worldmodel.from_pretrained(folder).save_pretrained(tmp_path / "copy"))
    assert torch.equal(again.decode_pixels(futures), frames)  # save_pretrained carries decoder/ along


def test_decode_pixels_with_a_context_decoder_starts_from_the_context_clips_last_frame(tmp_path):
    """decode.py's default decoder reads the previous frame: decode_pixels needs the context clips and gives
    what the decoder's own rollout decoding gives from their last frames."""
    from worldmodel.decode import DecoderConfig, FrameDecoder
    from worldmodel.decode.store import save_decoder

    wm = clip_model()
    clips = torch.randint(0, 256, (4, 2, 3, 32, 32), dtype=torch.uint8)
    futures = wm.sample_futures(clips, n=2, horizon=2, seed=0)  # (2, 4, 3, 8)
    torch.manual_seed(1)
    decoder = FrameDecoder(DecoderConfig(embed_dim=8, frame_shape=(3, 32, 32), width=16, context_frame=True)).eval()
    folder = wm.save_pretrained(tmp_path / "export")
    save_decoder(folder / "decoder", decoder, {})
    loaded = worldmodel.from_pretrained(folder)
    with pytest.raises(ValueError, match="pass context="):
        loaded.decode_pixels(futures)
    frames = loaded.decode_pixels(futures, context=clips)
    assert frames.shape == (2, 4, 3, 3, 32, 32)
    assert torch.equal(frames[:, :, 0], (clips[:, -1].float() / 255).expand(2, 4, 3, 32, 32))
    assert torch.equal(frames, decoder.decode_future(futures, clips[:, -1].float() / 255))
