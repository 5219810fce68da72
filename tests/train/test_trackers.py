"""Experiment trackers: TensorBoard events hold the same scalars as metrics.jsonl, once per step
across a resume; a tracker whose package is missing stops the run with one line naming it."""

import importlib.util
import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from faults import make_data, tiny_config
from worldmodel.config import ConfigError, load_config
from worldmodel.train.loop import train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data") / "num")


def scalars(run, tag: str) -> dict[int, float]:
    events = EventAccumulator(str(run / "tb")).Reload()
    return {event.step: event.value for event in events.Scalars(tag)}


def jsonl(run, key: str) -> dict[int, float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {record["step"]: record[key] for record in records}


def test_tensorboard_events_hold_the_loss_of_every_logged_step_once_across_a_resume(data, tmp_path):
    run = tmp_path / "run"
    cfg = tiny_config(data, 24, "train.log_every=2")
    train(cfg, run, stop_at=14)  # a checkpoint at step 14 (and 10)
    train(cfg, run, resume=True)
    loss = scalars(run, "loss")
    assert sorted(loss) == list(range(2, 25, 2))  # each logged step once, none from the first invocation left twice
    assert loss == pytest.approx(jsonl(run, "loss"), rel=1e-6)  # the same numbers as the plain record (float32 events)
    assert scalars(run, "lr") == pytest.approx(jsonl(run, "lr"), rel=1e-6)
    assert loss[24] < loss[2]  # and they are a training's: the loss fell


def test_log_with_none_writes_metrics_jsonl_only(data, tmp_path):
    run = train(tiny_config(data, 4, "train.log_with=none"), tmp_path / "run")
    assert not (run / "tb").exists()
    assert sorted(jsonl(run, "loss")) == [1, 2, 3, 4]


@pytest.mark.parametrize("tracker", ["wandb", "mlflow", "aim"])
def test_a_missing_tracker_package_is_one_line_naming_it(tracker, data, tmp_path):
    if importlib.util.find_spec(tracker) is not None:
        pytest.skip(f"{tracker} is installed here")
    with pytest.raises(ConfigError) as err:
        train(tiny_config(data, 4, f"train.log_with={tracker}"), tmp_path / "run")
    assert str(err.value) == (f"train.log_with is {tracker!r}, but the package {tracker!r} is not installed "
                              f"(pip install {tracker}), or set train.log_with=none")
    assert not (tmp_path / "run").exists()  # stopped before the run folder was made


def test_an_unknown_tracker_is_refused_by_the_config():
    with pytest.raises(ConfigError, match=r"'train.log_with' is 'tensorbord'; expected one of \['tensorboard', 'wandb'"):
        load_config(None, ["train.log_with=tensorbord"])
