"""Bad configuration input, from the library and from ``train.py``: one line naming the key, the
source and what was expected; property-based tests of the dotted overrides."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faults import CONFIG, ROOT, load_module, make_data
from worldmodel.config import CHOICES, RANGES, Config, ConfigError, load_config

train_cli = load_module(ROOT / "train.py", "train_cli")
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def cli_error(*argv: str) -> str:
    """The message ``train.py`` exits with (it must exit with one)."""
    with pytest.raises(SystemExit) as stop:
        train_cli.main(list(argv))
    return str(stop.value.code)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data") / "num")


BAD_COMMAND_LINES = [
    (["train.stepz=3"], r"command line: unknown key 'train.stepz'; closest valid keys: \['train.steps'"),
    (["train.steps=many"], r"bad value for 'train.steps': Value 'many' of type 'str' could not be converted to Integer"),
    (["train.checkpoint_every=0"], r"'train.checkpoint_every' is 0; expected a number in \[1, inf\]"),
    (["optim.lr=nan"], r"'optim.lr' is nan; expected a finite number"),
    (["train=5"], r"'train' is 5; expected a mapping of keys under it"),
    (["train.steps"], r"override 'train.steps' is not of the form key=value"),
    (["name=${nowhere}"], r"bad value for 'name': Interpolation key 'nowhere' not found"),
    (["data.generator_args='{a"], r"value \"'\{a\" of 'data.generator_args' is not valid YAML"),
    (["model.latent.kind=gausian"], r"'model.latent.kind' is 'gausian'; expected one of \['none', 'gaussian'"),
    (["model.predictor.kind=residual"], r"'model.predictor.kind' is 'residual'; expected one of \['additive', 'mlp', 'modular', 'tokens'\]"),
    (["model.latent.prior=marginal"], r"'model.latent.prior' is 'marginal', an option that was removed; delete the key"),
    (["model.latent.value_noise=-0.1"], r"'model.latent.value_noise' is -0.1; expected a number in \[0.0, inf\]"),
    (["train.prior_fit_steps=-5"], r"'train.prior_fit_steps' is -5; expected a number in \[0, inf\]"),
    (["train.steps=???"], r"'train.steps' is '\?\?\?' \(a missing value\); expected a value"),
]


@pytest.mark.parametrize("overrides, message", BAD_COMMAND_LINES, ids=[b[0][0] for b in BAD_COMMAND_LINES])
def test_bad_overrides_exit_with_one_line_naming_the_key(overrides, message, tmp_path):
    error = cli_error("--config", str(CONFIG), "--run-dir", str(tmp_path / "run"), *overrides)
    assert error.startswith("error: ") and "\n" not in error
    assert re.search(message, error), error
    assert not (tmp_path / "run").exists()  # nothing started


def test_bad_files_and_folders_exit_with_one_line_naming_them(data, tmp_path):
    run = str(tmp_path / "run")
    missing = tmp_path / "missing.yaml"
    assert cli_error("--config", str(missing), "--run-dir", run) == f"error: config file not found: {missing}"
    broken = tmp_path / "broken.yaml"
    broken.write_text("train: {steps: 3\nmodel: [\n")
    assert cli_error("--config", str(broken), "--run-dir", run).startswith(f"error: {broken}: not valid YAML (")
    nowhere = tmp_path / "nowhere"
    error = cli_error("--config", str(CONFIG), "--run-dir", run, f"data.path={nowhere}", "data.generator=null")
    assert error.startswith(f"error: data.path '{nowhere}' is not a prepared dataset folder (no meta.json)")
    error = cli_error("--config", str(CONFIG), "--run-dir", run, f"data.path={data}", "train.batch_size=100000")
    assert error == "error: dataset has 512 samples, fewer than train.batch_size 100000"
    for error in (cli_error("--config", str(missing), "--run-dir", run), error):
        assert "\n" not in error


def test_yaml_tags_that_would_run_code_are_refused(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.yaml"
    path.write_text(f"name: !!python/object/apply:builtins.open ['{marker}', 'w']\n")
    with pytest.raises(ConfigError, match=f"{path}: not valid YAML"):
        load_config(path)
    assert not marker.exists()


# ---------------------------------------------------------------- properties of the overrides

def leaf_strategies() -> dict[str, st.SearchStrategy]:
    """A strategy of valid values for every schema leaf with a fixed type."""
    plain_name = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True).filter(
        lambda s: s not in ("true", "false", "yes", "no", "on", "off", "null", "nan", "inf"))
    strategies = {}

    def walk(node, prefix):
        for f in dataclasses.fields(node):
            key, value = prefix + f.name, getattr(node, f.name)
            low, high = RANGES.get(key, (-10**6, 10**6))
            if dataclasses.is_dataclass(value):
                walk(value, key + ".")
            elif key in CHOICES:
                strategies[key] = st.sampled_from(CHOICES[key])
            elif isinstance(value, bool):
                strategies[key] = st.booleans()
            elif isinstance(value, int):
                strategies[key] = st.integers(int(low), int(min(high, 10**9)))
            elif isinstance(value, float):
                strategies[key] = st.floats(low, min(high, 1e9), allow_nan=False)
            elif isinstance(value, str):
                strategies[key] = plain_name

    walk(Config(), "")
    return strategies


LEAVES = leaf_strategies()
# values valid only beside another key (config.py checks them together)
COMPANIONS = {("model.encoder.kind", "timm"): ["model.encoder.timm_name=resnet18"]}


@PROPERTY
@given(st.data())
def test_every_valid_override_round_trips(draw):
    key = draw.draw(st.sampled_from(sorted(LEAVES)))
    value = draw.draw(LEAVES[key])
    text = str(value).lower() if isinstance(value, bool) else repr(value) if isinstance(value, float) else str(value)
    cfg = load_config(None, [f"{key}={text}", *COMPANIONS.get((key, value), [])])
    got = cfg
    for part in key.split("."):
        got = getattr(got, part)
    assert got == value


@settings(PROPERTY, max_examples=100)
@given(st.text(max_size=24), st.text(max_size=24))
def test_any_override_loads_or_fails_with_one_line_naming_the_key(key, value):
    override = f"{key}={value}"
    try:
        load_config(None, [override])
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message and message.startswith("command line: ")
        parts = override.partition("=")[0].split(".")
        prefixes = [".".join(parts[: i + 1]) for i in range(len(parts))]
        assert "is not of the form key=value" in message or any(repr(p) in message or f"'{p}'" in message for p in prefixes)


@settings(PROPERTY, max_examples=50)
@given(st.sampled_from(sorted(LEAVES)), st.from_regex(r"[a-z]{1,8}", fullmatch=True))
def test_an_unknown_key_under_any_section_is_named_with_its_closest_keys(leaf, extra):
    section = leaf.rsplit(".", 1)[0] if "." in leaf else ""
    key = f"{section}.{extra}_x" if section else f"{extra}_x"
    with pytest.raises(ConfigError, match=rf"command line: unknown key '{key}'; closest valid keys: \["):
        load_config(None, [f"{key}=1"])
