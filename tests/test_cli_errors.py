"""A hostile user at every CLI: each bad input ends in one line ``error: <input>: <expected>`` with
exit status 1 (2 for a bad command line), never a traceback; ``--debug`` shows the traceback.

Each test here is a row of the table in docs/reliability.md. The CLIs run in-process (their
``main``) on real runs, real dataset folders and real video files; one runs as a process to check
the exit status and stderr end to end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from data_prep.__main__ import main as data_prep
from data_prep.render import write_mp4
from faults import CONFIG, ROOT, load_module, make_data, overrides
from worldmodel.config import load_config
from worldmodel.data import ensure_dataset
from worldmodel.eval.probes import is_categorical
from worldmodel.train.runs import RunFolderError

train_cli = load_module(ROOT / "train.py", "train_cli_errors")
eval_cli = load_module(ROOT / "eval.py", "eval_cli_errors")
rollout_cli = load_module(ROOT / "rollout.py", "rollout_cli_errors")
STEPS = 20


def error_of(main, *argv: str) -> str:
    """The one line a CLI exits with (status 1: SystemExit carrying the message)."""
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    message = stop.value.code
    assert isinstance(message, str) and message.startswith("error: ") and "\n" not in message, message
    return message


def usage_error(main, capsys, *argv: str) -> str:
    """The one line a CLI prints for a bad command line (status 2)."""
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in argv])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err.strip()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data") / "num")


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    """A finished, evaluated tiny run, trained with its overrides placed after --run-dir."""
    run = tmp_path_factory.mktemp("runs") / "run"
    train_cli.main(["--config", str(CONFIG), "--run-dir", str(run), *overrides(data, STEPS)])
    eval_cli.main(["--run", str(run)])
    return run


def copy_run(run, tmp_path, *without: str):
    copy = tmp_path / "copy"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns(*without))
    return copy


# ------------------------------------------------------------------------------------ train.py

def test_overrides_after_run_dir_are_read(run):
    assert json.loads((run / "run.json").read_text())["steps"] == STEPS
    assert load_config(run / "config.yaml").model.encoder.out_dim == 4  # an override from the tail


def test_an_empty_yaml_is_refused(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert error_of(train_cli.main, "--config", empty, "--run-dir", tmp_path / "run") == \
        f"error: config {empty} is empty; expected a mapping of config keys (see configs/)"
    assert not (tmp_path / "run").exists()


def test_stop_at_below_one_is_a_usage_error(tmp_path, capsys):
    assert usage_error(train_cli.main, capsys, "--config", CONFIG, "--run-dir", tmp_path / "run", "--stop-at", "-1") == \
        "error: argument --stop-at: expected a whole number ≥ 1, got -1 (see train.py --help)"


def test_a_run_dir_under_a_file_is_named(data, tmp_path):
    (tmp_path / "file").write_text("")
    run = tmp_path / "file" / "run"
    assert error_of(train_cli.main, "--config", CONFIG, "--run-dir", run, *overrides(data, STEPS)) == \
        f"error: {run}: cannot create the run folder, {tmp_path / 'file'} is a file; expected a folder path"


def test_a_malformed_meta_json_is_named(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "meta.json").write_text('{"kind": "numerical",')
    for extra in ([], ["data.generator_args={dim: 4}"]):  # read by the dataset, or first by the options check
        error = error_of(train_cli.main, "--config", CONFIG, "--run-dir", tmp_path / "run", f"data.path={folder}", *extra)
        assert error.startswith(f"error: {folder / 'meta.json'}: malformed JSON ("), error


def test_a_bad_generator_args_key_names_the_closest_option(tmp_path):
    folder = tmp_path / "data"
    error = error_of(train_cli.main, "--config", CONFIG, "--run-dir", tmp_path / "run", f"data.path={folder}",
                     "data.generator_args={dimm: 4}")
    assert error == "error: data.generator_args: 'dimm' is not an option of the 'numerical' generator; closest: ['dim']"
    assert not folder.exists()


def test_overwrite_and_resume_together_are_a_usage_error(tmp_path, capsys):
    assert usage_error(train_cli.main, capsys, "--config", CONFIG, "--resume", "--overwrite") == \
        "error: --resume and --overwrite contradict each other; give one of them (see train.py --help)"


# ------------------------------------------------------------------------------------ eval.py

def test_eval_of_a_missing_or_unfinished_run(data, tmp_path):
    nowhere = tmp_path / "nowhere"
    assert error_of(eval_cli.main, "--run", nowhere) == \
        f"error: {nowhere}: no such run folder; expected a folder written by train.py"
    part = tmp_path / "part"
    train_cli.main(["--config", str(CONFIG), "--run-dir", str(part), "--stop-at", "10", *overrides(data, STEPS)])
    assert error_of(eval_cli.main, "--run", part) == (
        f"error: {part}: not a finished run (missing run.json); finish it with "
        "`python train.py --config … --run-dir RUN --resume`")


def test_eval_of_a_corrupt_model_file(run, tmp_path):
    copy = copy_run(run, tmp_path)
    model = copy / "model.safetensors"
    model.write_bytes(model.read_bytes()[:100])
    error = error_of(eval_cli.main, "--run", copy)
    assert error.startswith(f"error: {model}: not a readable safetensors file (") and \
        error.endswith("expected the weights train.py writes")


def test_eval_of_nan_weights_is_a_message_not_a_scikit_learn_traceback(run, tmp_path):
    copy = copy_run(run, tmp_path)
    model = copy / "model.safetensors"
    state = load_file(str(model))
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name] = torch.full_like(state[name], float("nan"))
    save_file(state, str(model))
    assert error_of(eval_cli.main, "--run", copy) == (
        f"error: {model}: non-finite weights (NaN or inf) in 1 tensors, e.g. {name!r}; expected finite weights "
        "(the training diverged: retrain, e.g. with a lower optim.lr)")


def test_reference_motion_on_a_numerical_run_is_refused_before_any_work(run, tmp_path):
    """--data names a folder that does not exist: had any work started, that would be the error."""
    before = (run / "eval.json").stat().st_mtime_ns
    assert error_of(eval_cli.main, "--run", run, "--reference-motion", "phase", "--data", tmp_path / "nowhere") == (
        "error: --reference-motion needs a run on frames (data.kind 'frames', e.g. a folder from `data_prep videos`); "
        "this run's data.kind is 'numerical'")
    assert (run / "eval.json").stat().st_mtime_ns == before


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(RunFolderError, match="no such run folder"):
        eval_cli.main(["--run", str(tmp_path / "nowhere"), "--debug"])


def test_as_a_process_the_error_is_one_line_on_stderr_with_status_1(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "eval.py"), "--run", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    assert done.stderr == f"error: {tmp_path / 'nowhere'}: no such run folder; expected a folder written by train.py\n"


def test_help_imports_no_heavy_library():
    """``--help`` must be instant: torch, scikit-learn and matplotlib are imported after parsing."""
    for script in ("train.py", "eval.py", "rollout.py"):
        code = (f"import runpy, sys\nsys.argv = ['{script}', '--help']\ntry:\n    runpy.run_path('{script}', run_name='__main__')\n"
                "except SystemExit:\n    pass\nprint(sorted({'torch', 'sklearn', 'matplotlib'} & set(sys.modules)))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
        assert done.stdout.strip().splitlines()[-1] == "[]", (script, done.stdout[-500:], done.stderr[-500:])


# ------------------------------------------------------------------------------------ rollout.py

def test_rollout_before_eval_says_to_run_eval(run, tmp_path):
    copy = copy_run(run, tmp_path, "probes", "eval.json", "provenance.json")
    assert error_of(rollout_cli.main, "--run", copy, "--starts", 4, "--samples", 2) == \
        f"error: {copy / 'probes'}: missing; run `python eval.py --run {copy}` first"


def test_rollout_options_below_one_are_usage_errors(run, capsys):
    assert usage_error(rollout_cli.main, capsys, "--run", run, "--samples", "0") == \
        "error: argument --samples: expected a whole number ≥ 1, got 0 (see rollout.py --help)"


# ------------------------------------------------------------------------------------ data_prep

def test_generator_options_out_of_range_are_usage_errors_and_leave_no_folder(tmp_path, capsys):
    assert usage_error(data_prep, capsys, "numerical", tmp_path / "num", "--dim", "0") == \
        "error: argument --dim: expected a whole number ≥ 1, got 0 (see python -m data_prep numerical --help)"
    assert usage_error(data_prep, capsys, "mmnist", tmp_path / "mm", "--videos", "0") == \
        "error: argument --videos: expected a whole number ≥ 1, got 0 (see python -m data_prep mmnist --help)"
    assert not (tmp_path / "num").exists() and not (tmp_path / "mm").exists()


def test_generator_args_out_of_range_from_a_config_leave_no_folder(tmp_path):
    mm = tmp_path / "mm"
    error = error_of(train_cli.main, "--config", ROOT / "configs/mmnist/byol.yaml", "--run-dir", tmp_path / "run",
                     f"data.path={mm}", "data.generator_args={videos: 0}")
    assert error == "error: data_prep.mmnist: videos is 0; expected a whole number ≥ 1"
    num = tmp_path / "num"
    error = error_of(train_cli.main, "--config", CONFIG, "--run-dir", tmp_path / "run", f"data.path={num}",
                     "data.generator_args={dim: 0}")
    assert error == "error: --dim is 0; expected a whole number ≥ 1"
    assert not mm.exists() and not num.exists()


def test_videos_strict_with_a_bad_file_writes_no_dataset(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    frames = np.random.default_rng(0).integers(0, 255, (12, 32, 32, 3), dtype=np.uint8)
    write_mp4(src / "good.mp4", frames, 10)
    (src / "bad.mp4").write_bytes(b"not a video" * 100)
    out = tmp_path / "out"
    error = error_of(data_prep, "videos", src, out, "--size", "16", "--strict")
    assert error == f"error: {src}: 1 of 2 videos failed; --strict wrote no dataset to {out} (decoded videos kept in {out}/parts)"
    assert "failed: bad.mp4: " in capsys.readouterr().err
    assert not (out / "meta.json").exists() and not (out / "frames.npy").exists()
    data_prep(["videos", str(src), str(out), "--size", "16"])  # without --strict: the good video, from the parts
    assert json.loads((out / "meta.json").read_text())["writer"] == "data_prep.videos"


def test_the_readme_camera_pan_command_makes_a_folder_the_camera_pan_configs_accept(tmp_path):
    line = next(line for line in (ROOT / "README.md").read_text().splitlines()
                if line.startswith("python -m data_prep camera-pan "))
    argv = line.split("#")[0].split()[3:]
    argv[1] = str(tmp_path / "pan")  # OUT
    data_prep([*argv, "--videos", "2", "--frames", "4"])
    for config in sorted((ROOT / "configs/camera_pan").glob("*.yaml")):
        ensure_dataset(load_config(config, [f"data.path={tmp_path / 'pan'}"]).data)  # raises if the options differ


# ------------------------------------------------------------------------------------ probes

def test_whole_number_ground_truth_on_a_grid_is_a_regression_target():
    angles = np.arange(0, 60, 3.0)[np.random.default_rng(0).integers(0, 20, 500)]
    assert not is_categorical(angles[:, None])  # 0, 3, …, 57 degrees
    assert not is_categorical(np.array([[0.0], [15.0], [30.0], [45.0]]))  # few values, still a measurement
    assert is_categorical(np.arange(10.0).repeat(5)[:, None])  # digit labels
    assert is_categorical(np.array([[0.0], [1.0], [3.0], [7.0]]))  # labels of a small sample missing some codes
    assert is_categorical(np.array([[1.0, 2.0], [2.0, 1.0]]))  # codes that need not start at 0
    assert not is_categorical(np.arange(20.0)[:, None])  # more codes than MAX_CLASSES
