"""The per-kind task registry: one task per data kind, and one line for a kind it does not know."""

from types import SimpleNamespace

import pytest

from worldmodel.config import load_config
from worldmodel.tasks import FramesTask, ImagePairsTask, NumericalTask, task_for


@pytest.mark.parametrize("config, task", [("configs/numerical/adassl_v.yaml", NumericalTask),
                                          ("configs/mmnist/adassl_v.yaml", FramesTask),
                                          ("configs/image_pairs/adassl_v.yaml", ImagePairsTask)])
def test_every_shipped_kind_has_its_task(config, task):
    chosen = task_for(load_config(config).data)
    assert isinstance(chosen, task) and chosen.kind == load_config(config).data.kind
    assert chosen.splits[:2] == ("train", "test")
    assert chosen.reference_motion == (task is FramesTask)


def test_an_unknown_kind_is_refused_in_one_line_naming_it_and_the_known_ones():
    with pytest.raises(ValueError) as error:
        task_for(SimpleNamespace(kind="audio"))
    assert str(error.value) == "data.kind 'audio' is not supported; expected one of 'numerical', 'frames', 'image_pairs'"
