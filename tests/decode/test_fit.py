"""decode.py on tiny trained runs: a resumed fit equals an uninterrupted one, metrics and renders are
written, rollout chains roll the one-step predictions forward, and a run without frames gets one line."""

import json

import numpy as np
import pytest
import torch

import decode as decode_cli
import eval as eval_cli
import rollout as rollout_cli
from data_prep.mmnist import generate_mmnist
from data_prep.numerical import generate_numerical
from worldmodel.config import load_config
from worldmodel.data import build_dataset
from worldmodel.decode import fit as fitting
from worldmodel.decode.data import decoder_data, pair_chains
from worldmodel.decode.fit import FitConfig, fit_decoder
from worldmodel.decode.store import decoder_dir, load_decoder, read_decoder
from worldmodel.train.loop import train

SMALL = ["model.encoder.width=8", "model.encoder.out_dim=32", "model.latent.hidden=16", "model.predictor.hidden=16",
         "objective.hidden=16", "train.batch_size=16", "train.steps=10", "train.log_every=10", "train.threads=1",
         "train.mixed_precision=no"]


@pytest.fixture(scope="module")
def frame_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mmnist")
    data = generate_mmnist(root / "data", videos=8, frames=10, size=32, digit_size=12)
    return train(load_config("configs/mmnist/adassl_v.yaml", [f"data.path={data}", *SMALL]), root / "run")


def test_a_resumed_fit_ends_where_an_uninterrupted_one_does(frame_run):
    fit = FitConfig(steps=8, batch_size=8, width=16, checkpoint_every=3)
    whole, _ = fit_decoder(frame_run, fit, overwrite=True, progress=False)
    _, facts = fit_decoder(frame_run, fit, overwrite=True, stop_at=5, progress=False)
    assert facts["steps"] == 5 and (decoder_dir(frame_run) / "checkpoint.pt").is_file()
    resumed, facts = fit_decoder(frame_run, fit, resume=True, progress=False)
    assert facts["steps"] == 8 and not (decoder_dir(frame_run) / "checkpoint.pt").exists()
    x, previous, frame = torch.randn(4, 32), torch.randn(4, 32), torch.rand(4, 1, 32, 32)
    assert torch.equal(whole.decode(x, previous, frame), resumed.decode(x, previous, frame))
    assert torch.equal(resumed.decode(x, previous, frame), load_decoder(frame_run).decode(x, previous, frame))
    config = json.loads((decoder_dir(frame_run) / "config.json").read_text())
    assert config["decoder"]["frame_shape"] == [1, 32, 32] and len(config["model_sha256"]) == 64
    assert config["decoder"]["context_frame"] and config["fit"]["context_frame"]


def test_decode_cli_scores_and_rollout_renders(frame_run, capsys):
    decode_cli.main(["--run", str(frame_run), "--steps", "6", "--width", "16", "--overwrite",
                     "--horizon", "3", "--starts", "4", "--samples", "3"])
    metrics = json.loads((decoder_dir(frame_run) / "metrics.json").read_text())
    for key in ("heldout_psnr", "heldout_com_error_px", "one_step_prior_mean_psnr", "one_step_copy_last_psnr",
                "one_step_mean_frame_ssim", "pixel_rmse_best_of_n_h3", "pixel_psnr_prior_mean_h3", "pixel_diversity_h3"):
        assert key in metrics and metrics[key] == metrics[key]  # present and not NaN
    assert 0 < metrics["pixel_rmse_best_of_n_h3"] < 1 and metrics["true_frame_com_error_px"] < 0.6
    assert "heldout_psnr" in capsys.readouterr().out
    rendered = frame_run / "rollouts" / "render"
    # with a decoder and no probes (footage without ground truth), rollout.py renders pictures only
    rollout_cli.main(["--run", str(frame_run), "--starts", "3", "--samples", "4", "--horizon", "3"])
    pictures_only = json.loads((frame_run / "rollouts" / "metrics.json").read_text())
    assert (rendered / "contact_sheet.png").is_file() and 0 < pictures_only["pixel_rmse_best_of_n_h3"] < 1
    assert not any(key.startswith("position_") for key in pictures_only)
    eval_cli.main(["--run", str(frame_run)])
    rollout_cli.main(["--run", str(frame_run), "--starts", "3", "--samples", "4", "--horizon", "3"])
    assert sorted(p.name for p in rendered.iterdir()) == sorted(
        ["contact_sheet.png"] + [f"start_{i:02d}.{ext}" for i in range(3) for ext in ("png", "gif", "mp4")])
    rollout_metrics = json.loads((frame_run / "rollouts" / "metrics.json").read_text())
    assert all(0 < rollout_metrics[f"pixel_rmse_{name}_h3"] < 1 for name in ("best_of_n", "prior_mean", "copy_last", "mean_frame"))
    assert rollout_metrics["render_seconds"] > 0 and any(key.startswith("position_") for key in rollout_metrics)


def test_rollout_chains_roll_the_one_step_predictions_forward(frame_run, capsys):
    cfg, model = fitting.frame_run(frame_run)
    pairs = build_dataset(cfg.data, "train")
    data = decoder_data(model, pairs, predictions=True, context_frame=True, rollout_steps=3)
    chains = pair_chains(pairs, 3)
    # runs of 3 consecutive pairs of one video: 5 in each 10-frame video (7 pairs of a 3-frame context, gap 1)
    assert len(chains) == len(data.chains) == 5 * len(np.unique(pairs.video))
    assert np.all(pairs.first[chains[:, 1:]] == pairs.first[chains[:, :-1]] + pairs.gap)
    assert np.all(pairs.video[chains[:, 1:]] == pairs.video[chains[:, :1]])
    # step 0 is f(x) of the chain's first pair, step 1 that pair's one-step posterior-mean prediction
    predicted = data.kind == 1
    assert torch.equal(data.chains[:, 0], data.previous[predicted][chains[:, 0]])
    assert torch.allclose(data.chains[:, 1], data.inputs[predicted][chains[:, 0]], atol=1e-5)
    assert torch.equal(data.chain_frame[:, :2], torch.stack([data.context[predicted], data.frame[predicted]], 1)[chains[:, 0]])
    assert torch.equal(data.chain_frame[:, 3], data.frame[predicted][chains[:, 2]])
    decode_cli.main(["--run", str(frame_run), "--steps", "6", "--width", "16", "--overwrite", "--rollout-steps", "3",
                     "--horizon", "3", "--starts", "4", "--samples", "3"])
    assert json.loads((decoder_dir(frame_run) / "config.json").read_text())["fit"]["rollout_steps"] == 3
    with pytest.raises(SystemExit) as stop:  # a 10-frame video holds 7 pairs, not 8 in a row
        decode_cli.main(["--run", str(frame_run), "--steps", "6", "--overwrite", "--rollout-steps", "8"])
    assert "holds 8 consecutive pairs" in stop.value.code and "\n" not in stop.value.code


def test_a_run_without_frames_gets_one_line(tmp_path, capsys):
    data = generate_numerical(tmp_path / "data", dim=4, modes=2, n_train=300, n_test=100, n_ood=100)
    run = train(load_config("configs/numerical/adassl_v.yaml", [f"data.path={data}", "train.steps=2", "train.batch_size=64", "train.threads=1"]),
                tmp_path / "run")
    with pytest.raises(SystemExit) as stop:
        decode_cli.main(["--run", str(run)])
    assert stop.value.code.startswith("error: ") and "'numerical' run has no frames" in stop.value.code
    assert "\n" not in stop.value.code
