"""Every shipped config loads, and its built-in generator accepts its data.generator_args."""

from pathlib import Path

import pytest

from worldmodel.config import load_config
from worldmodel.data import generator_options, load_generator

CONFIGS = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: Path(p).relative_to(Path(p).parents[1]).as_posix())
def test_shipped_config_loads_and_names_only_options_of_its_generator(path):
    data = load_config(path).data
    if data.generator is None:
        assert not data.generator_args
        return
    options = set(generator_options(load_generator(data.generator)))
    assert set(data.generator_args) <= options, set(data.generator_args) - options
