"""Run folders: one training at a time, no run replaced by accident, derived files tied to their model.

Real trainings (tiny numerical runs), a real second ``train.py`` process, real eval and rollouts.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from faults import (CONFIG, ROOT, load_module, make_data, overrides, start_training, stderr_of, tiny_config,
                    wait_for_step)
from worldmodel.eval.evaluate import evaluate_run
from worldmodel.rollout.report import rollout_run
from worldmodel.train.checkpoints import latest_checkpoint
from worldmodel.train.loop import train
from worldmodel.train.runs import (LOCK, RunFolderError, RunLock, check_derived, claim_run, load_run, model_hash,
                                   training_owner)

STEPS = 20
train_cli = load_module(ROOT / "train.py", "train_cli_runs")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data") / "num")


def finished(data, run, steps=STEPS, **kwargs):
    return train(tiny_config(data, steps), run, **kwargs)


def test_a_finished_evaluated_run_is_refused_a_fresh_start_and_overwrite_clears_every_derived_file(data, tmp_path, capsys):
    run = finished(data, tmp_path / "run")
    evaluate_run(run)
    rollout_run(run, starts=4, samples=2)
    (run / "decoder").mkdir()  # a fitted decoder, a file a reader left among the rollouts
    (run / "rollouts" / "extra.png").write_text("x")
    (run / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match=rf"{run}: holds a trained or started run \(model.safetensors, run.json, "
                                             r"eval.json, probes, rollouts, decoder, provenance.json, checkpoints/\); "
                                             "expected --resume to continue it or --overwrite"):
        finished(data, run, steps=STEPS + 10)
    assert json.loads((run / "run.json").read_text())["steps"] == STEPS  # untouched

    finished(data, run, steps=STEPS + 10, overwrite=True)
    notice = capsys.readouterr().err
    assert "--overwrite deleted model.safetensors, run.json, checkpoints, metrics.jsonl, tb, config.yaml, eval.json, " \
           "probes, rollouts, decoder, provenance.json" in notice
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml", "metrics.jsonl", "model.safetensors",
                                                     "notes.txt", "run.json", "tb"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_20", "step_30"]  # the new run's only


def test_an_interrupted_overwrite_names_a_checkpoint_that_exists_and_resume_continues_the_new_run(data, tmp_path):
    """The old run's later checkpoints must not outlive it: keep_checkpoints would otherwise delete
    the new run's first checkpoint, and --resume would continue the old run."""
    run = finished(data, tmp_path / "run", steps=40)  # checkpoints step_30, step_40
    train(tiny_config(data, 40), run, stop_at=10, overwrite=True)
    assert latest_checkpoint(run).name == "step_10" and not (run / "model.safetensors").exists()
    train(tiny_config(data, 40), run, resume=True)
    assert json.loads((run / "run.json").read_text())["resumed_from"] == 10


def test_resume_without_a_checkpoint_starts_with_a_notice_or_refuses_to_replace_a_model(data, tmp_path, capsys):
    fresh = tmp_path / "fresh"
    finished(data, fresh, resume=True)
    assert f"notice: {fresh}: --resume found no checkpoint; starting from step 0" in capsys.readouterr().err
    assert json.loads((fresh / "run.json").read_text())["resumed_from"] == 0

    for checkpoint in (fresh / "checkpoints").iterdir():
        for file in checkpoint.iterdir():
            file.unlink()
        checkpoint.rmdir()
    with pytest.raises(RunFolderError, match=rf"{fresh}: --resume found no checkpoint but the folder holds model.safetensors, "
                                             r"run.json; expected checkpoints/step_N \(use --overwrite"):
        finished(data, fresh, resume=True)


def test_a_second_training_is_refused_eval_waits_and_a_dead_owners_lock_is_taken_over(data, tmp_path, capsys):
    run = tmp_path / "run"
    process = start_training(run, data, 2000)
    try:
        wait_for_step(run, process, 3)
        assert training_owner(run) == str(process.pid)
        with pytest.raises(RunFolderError, match=rf"{run}: in use by another training \(pid {process.pid}, {run / LOCK}\); "
                                                 "expected one training per run folder"):
            finished(data, run, resume=True)
        error = cli_error("--config", str(CONFIG), "--run-dir", str(run), *overrides(data, STEPS), "--resume")
        assert error.startswith(f"error: {run}: in use by another training (pid {process.pid}") and "\n" not in error
        with pytest.raises(RunFolderError, match=rf"{run}: a training \(pid {process.pid}\) is writing this run folder"):
            load_run(run)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert (run / LOCK).read_text().strip() == str(process.pid)  # left behind by the killed process
    assert training_owner(run) is None
    finished(data, run, resume=True)
    assert f"taking over the lock left by pid {process.pid}, which is no longer running" in capsys.readouterr().err
    assert not (run / LOCK).exists() and load_run(run)[0].train.steps == STEPS
    assert "Traceback" not in stderr_of(run)


def test_derived_files_record_their_model_and_readers_refuse_stale_ones(data, tmp_path):
    run = finished(data, tmp_path / "run")
    with pytest.raises(RunFolderError, match=rf"{run / 'probes'}: missing; run `python eval.py --run {run}` first"):
        rollout_run(run, starts=4, samples=2)
    evaluate_run(run)
    stamp = json.loads((run / "provenance.json").read_text())
    assert stamp == {"eval.json": {"model_sha256": model_hash(run)}, "probes": {"model_sha256": model_hash(run)}}
    rollout_run(run, starts=4, samples=2)
    assert json.loads((run / "provenance.json").read_text())["rollouts"] == stamp["probes"]

    old = model_hash(run)
    copy = tmp_path / "other"
    finished(data, copy, steps=STEPS + 10)
    os.replace(copy / "model.safetensors", run / "model.safetensors")  # the run's model replaced behind eval's back
    assert model_hash(run) != old
    for name in ("probes", "eval.json", "rollouts"):
        with pytest.raises(RunFolderError, match=rf"{run / name}: computed from another model.safetensors \(the run was "
                                                 rf"trained again\); run `python eval.py --run {run}` again"):
            check_derived(run, name)
    with pytest.raises(RunFolderError, match="computed from another model.safetensors"):
        rollout_run(run, starts=4, samples=2)
    evaluate_run(run)  # evaluating again makes them current
    check_derived(run, "probes")


def test_a_run_folder_under_a_file_and_contradicting_flags_are_one_line_errors(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(RunFolderError, match=rf"{tmp_path / 'file' / 'run'}: cannot create the run folder, "
                                             rf"{tmp_path / 'file'} is a file; expected a folder path"):
        claim_run(tmp_path / "file" / "run")
    with pytest.raises(RunFolderError, match="--resume and --overwrite contradict each other"):
        claim_run(tmp_path / "run", resume=True, overwrite=True)
    lock = claim_run(tmp_path / "run")
    with pytest.raises(RunFolderError, match=rf"in use by another training \(pid {os.getpid()}"):
        RunLock(tmp_path / "run")
    lock.release()
    assert not (tmp_path / "run" / LOCK).exists()


def cli_error(*argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        train_cli.main(list(argv))
    return str(stop.value.code)
