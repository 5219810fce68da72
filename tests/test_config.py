import pytest

from worldmodel.config import PAPER_RECIPE, PAPER_SPARSE_EDIT, Config, ConfigError, load_config, save_config


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_yaml_and_dotted_overrides(tmp_path):
    path = write(tmp_path, "name: t\nmodel:\n  latent: {kind: gaussian, beta: 2.0}\n")
    cfg = load_config(path, ["model.latent.beta=0.5", "train.seed=3"])
    assert isinstance(cfg, Config)
    assert cfg.model.latent.kind == "gaussian"
    assert cfg.model.latent.beta == 0.5 and cfg.train.seed == 3


def test_unknown_key_names_key_file_and_closest(tmp_path):
    path = write(tmp_path, "model:\n  latent: {betta: 2.0}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert "model.latent.betta" in msg and str(path) in msg and "model.latent.beta" in msg


def test_unknown_override_key_names_command_line():
    with pytest.raises(ConfigError, match=r"command line: unknown key 'train.step'.*train.steps"):
        load_config(None, ["train.step=10"])


def test_wrong_type_names_key_and_source(tmp_path):
    path = write(tmp_path, "train: {steps: many}\n")
    with pytest.raises(ConfigError, match=r"exp.yaml.*train.steps"):
        load_config(path)


def test_bad_choice_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"model.latent.kind.*'gausian'.*gaussian"):
        load_config(None, ["model.latent.kind=gausian"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_saved_config_round_trips(tmp_path):
    cfg = load_config(None, ["model.latent.kind=sparse", "data.generator_args={dim: 4}"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg


def test_mixed_precision_no_survives_yaml_boolean(tmp_path):
    assert load_config(write(tmp_path, "train: {mixed_precision: no}\n")).train.mixed_precision == "no"
    assert load_config(None, ["train.mixed_precision=no"]).train.mixed_precision == "no"


def test_compile_as_a_switch_means_off_or_the_default_backend(tmp_path):
    assert load_config(write(tmp_path, "train: {compile: false}\n")).train.compile == "none"
    assert load_config(None, ["train.compile=true"]).train.compile == "inductor"
    assert load_config(None, ["train.compile=aot_eager"]).train.compile == "aot_eager"


def test_a_run_saved_before_an_option_was_removed_still_loads(tmp_path):
    """config.yaml of an older run lists removed keys at their off values: they are dropped. A removed
    option that was on (e.g. the marginal prior) is refused with one line naming the key."""
    cfg = load_config(None, ["model.latent.kind=gaussian"])
    save_config(cfg, tmp_path / "config.yaml")
    old = (tmp_path / "config.yaml").read_text()
    old = old.replace("  latent:\n", "  latent:\n    prior: conditional\n")
    old = old.replace("objective:\n", "objective:\n  simsiam_predictor: true\n  simsiam_stop_gradient: true\n  centre_weight: 0.5\n")
    (tmp_path / "old.yaml").write_text(old)
    assert load_config(tmp_path / "old.yaml") == cfg
    (tmp_path / "marginal.yaml").write_text(old.replace("prior: conditional", "prior: marginal"))
    with pytest.raises(ConfigError, match=r"marginal.yaml: 'model.latent.prior' is 'marginal', an option that was removed"):
        load_config(tmp_path / "marginal.yaml")


def leaves(tree, prefix=""):
    """{dotted key: value} of a nested mapping."""
    out = {}
    for key, value in tree.items():
        out |= leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value}
    return out


def get(cfg, key):
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def test_recipe_paper_sets_every_option_of_the_authors_recipe_over_the_file():
    """On the command line the recipe overrides the file (adassl_s.yaml sets lr 1e-3, a cosine schedule,
    rank 2); each option then holds the authors' value, which differs from our default."""
    ours = load_config("configs/numerical/adassl_s.yaml")
    paper = load_config("configs/numerical/adassl_s.yaml", ["recipe=paper"])
    options = leaves(PAPER_RECIPE) | leaves(PAPER_SPARSE_EDIT)
    assert len(options) == 15
    for key, value in options.items():
        assert get(paper, key) == value and get(ours, key) != value, key
    assert paper.recipe == "paper" and ours.recipe == "ours"
    assert paper.model.latent.beta == ours.model.latent.beta  # options outside the recipe keep the file's value


def test_the_paper_recipe_changes_the_edit_of_sparse_latents_only():
    paper_v = load_config("configs/numerical/adassl_v.yaml", ["recipe=paper"])
    assert paper_v.model.predictor == load_config("configs/numerical/adassl_v.yaml").model.predictor
    assert paper_v.optim.lr == 1e-4 and paper_v.model.latent.logvar_clamp == 10.0


def test_an_explicit_option_wins_over_the_recipe_in_either_order_and_in_the_file(tmp_path):
    for overrides in (["recipe=paper", "optim.lr=0.003"], ["optim.lr=0.003", "recipe=paper"]):
        cfg = load_config("configs/numerical/adassl_v.yaml", overrides)
        assert cfg.optim.lr == 0.003 and cfg.optim.schedule == "constant"
    path = write(tmp_path, "recipe: paper\nobjective: {logit_clamp: 5.0}\n")
    cfg = load_config(path)
    assert cfg.objective.logit_clamp == 5.0 and cfg.objective.ema_momentum == 0.996
    assert load_config(path, ["objective.ema_momentum=0.9"]).objective.ema_momentum == 0.9


def test_a_saved_paper_recipe_config_loads_back_unchanged(tmp_path):
    cfg = load_config("configs/numerical/adassl_s.yaml", ["recipe=paper", "train.grad_clip=3.0"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg


def test_an_unknown_recipe_is_one_line_naming_the_choices():
    with pytest.raises(ConfigError, match=r"^command line: 'recipe' is 'authors'; expected one of \['ours', 'paper'\]$"):
        load_config(None, ["recipe=authors"])
