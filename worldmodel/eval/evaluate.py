"""Evaluation of trained runs: probes of the true latents, written to ``eval.json``.

All probes are ridge probes with α chosen by cross-validation on the train rows (see
:mod:`worldmodel.eval.probes`); the regression probes are saved to ``RUN/probes/`` for rollout.py.
What each kind of data is probed for lives in its task (:mod:`worldmodel.tasks`); every stage
prints one line with its time to stderr (``eval: DCI (6 factor columns) 0.8 s``).

Numerical runs: a probe f(x) → z is fitted on the train split and scored (R²) on the train,
test and out-of-distribution splits (z drawn with a much broader covariance), so ``r2_ood``
measures whether f recovers z up to a linear map, not just locally. ``r2_predicted``: the same
probe applied to the prediction t(f(x), r̄) (r̄ the posterior mean) against z⁺.
``r2_test_observation``, ``r2_ood_observation``: a probe from the raw observation x = g(z) itself;
the mixing g is piecewise linear, so x alone already carries much of z linearly.

Frame runs: a probe from the embedding of the context clip to each per-frame ground-truth array
of the store (taken at the clip's last frame: e.g. ``position``, ``velocity``, ``acceleration``
of moving digits) is fitted on the train videos (folds grouped by video) and scored on the
held-out test videos: ``r2_<name>`` (test), ``r2_<name>_train``, and ``r2_<name>_predicted``,
the probe read on the prediction t(f(x), r̄) against the truth at the target clip's last frame
(how well rollouts can be decoded). Categorical ground truth (integer, ≤ 16 values, e.g.
``label``) gets a logistic probe: ``acc_<name>``, ``acc_<name>_train``. The clips are not augmented.
``heldout`` lists what the test split holds (manifest ids; ``id[begin:end]`` for stretches of a video
under ``data.split_by: time``); ``data.test_videos`` names the held-out videos instead of a seeded draw.

Image-pair runs (``data.kind: image_pairs``): the embedding of the context image is probed the
same way for each ground-truth array of the folder (per image, e.g. the digit-pair generator's
``label``, ``thickness``, ``slant``, ``size``; or per pair, from the extra columns of pairs.csv),
fitted on the train split and scored on the test split, whose images the train pairs never show
(digit-pair generator): ``acc_<name>``, ``r2_<name>`` and ``r2_attributes``, the mean test R²
over the regression targets.

Numerical and frame runs, when the run has a latent and the data an action: ``r2_action_from_r``, a probe from
r̄ to the true action (z⁺ − z; the summed acceleration or camera motion between the clips);
``r2_action_from_embedding_r``, a probe from [f(x), r] with r a posterior draw r ~ q, against
``r2_action_from_embedding``, from f(x) alone: the action r carries given the context, also when r
encodes it together with the state (e.g. as the next velocity, from which the context's velocity must
be subtracted). That probe is fitted and scored on draws, not on r̄, because rollout.py feeds it
prior draws: fitted on r̄, it gives large weights to dimensions that r̄ leaves near-constant but
draws fill with noise (unused dimensions, at the prior's scale), and decodes every draw as a large
action. Then
``dci_d``, ``dci_c``, ``dci_i`` (:mod:`worldmodel.eval.dci`) of the embeddings against the regression
ground truth (when it has 2 columns or more), and on the test split ``centre_norm`` ‖s‖, ``residual_norm`` ρ
(:mod:`worldmodel.objectives.centre`) and ``embedding_std`` (per-dimension std, averaged).
Image pairs whose ground truth names which factors were on in each pair (``active_<factor>``), with a
sparse latent: the mask's precision and recall per factor (:mod:`worldmodel.eval.mask_factors`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

from worldmodel.data import build_dataset
from worldmodel.eval.latent_usage import latent_usage_metrics, unused_latent_warning
from worldmodel.eval.motion_baselines import motion_diagnosis
from worldmodel.eval.probes import reference_solvers, save_probes
from worldmodel.eval.progress import stage
from worldmodel.eval.reference_motion import check_reference_motion, reference_motion_metrics
from worldmodel.tasks import task_for
from worldmodel.train.runs import derived_stamp, load_run, record_derived


def evaluate_run(run_dir: str | Path, data: str | Path | None = None,
                 reference_motion: str | None = None, fast: bool = True) -> dict[str, float]:
    """Probe the run's embeddings; writes and returns ``{metric: number}``.

    ``reference_motion`` (``phase``): also probe r against a camera-motion estimate from the
    frames (:mod:`worldmodel.eval.reference_motion`), for footage without ground truth.
    ``fast=False``: the slower reference solvers (:func:`~worldmodel.eval.probes.reference_solvers`),
    for ``bench/eval_speed.py``. The run's ``train.threads`` (when set) bounds torch's threads and the
    probes' BLAS threads: an unbounded BLAS pool on a shared CPU made the logistic probes 6× slower.
    """
    run_dir = Path(run_dir)
    cfg, model = load_run(run_dir)
    stamp = derived_stamp(run_dir)  # the model these metrics and probes come from
    torch.manual_seed(0)  # the posterior draws of encode_pairs
    # another folder (e.g. prepared with `data_prep videos`) is read as it is, not as the run's generator wrote it
    data_cfg = dataclasses.replace(cfg.data, path=str(data), generator=None, generator_args={}) if data else cfg.data
    task = task_for(data_cfg)
    if reference_motion:
        check_reference_motion(model, data_cfg, reference_motion)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    with stage("total"), threadpool_limits(cfg.train.threads or None), (contextlib.nullcontext() if fast else reference_solvers()):
        metrics, probes = task.evaluate(model, data_cfg)
        if reference_motion:
            with stage("reference motion"):
                metrics |= reference_motion_metrics(model, data_cfg, run_dir, reference_motion)
        with stage("latent usage"):
            metrics |= latent_usage_metrics(model, data_cfg)  # kl_nats / l0, active_dims, r_spread
    if reference_motion:  # per axis: does r track it, and if not, which step loses it
        metrics["reference_motion_diagnosis"] = motion_diagnosis(metrics)
    if warning := unused_latent_warning(metrics):
        print(f"warning: {warning}")
    if data_cfg.kind == "frames":  # which videos (or stretches of them) the test scores come from
        metrics["heldout"] = build_dataset(data_cfg, "test").parts()
    save_probes(run_dir / "probes", probes)
    (run_dir / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    record_derived(run_dir, ["eval.json", "probes"] + ["reference_motion.png"] * bool(reference_motion), stamp)
    return metrics


def format_table(metrics: dict) -> str:
    """One ``name  value`` line per metric, names aligned; a list (e.g. ``heldout``) as its first items and
    count; a diagnosis (a list of sentences) one sentence a line below its name."""
    width = max(map(len, metrics))

    def shown(name: str, value) -> str:
        if name.endswith("_diagnosis"):
            return "".join(f"\n  {line}" for line in value)
        if isinstance(value, list):
            return ", ".join(map(str, value[:8])) + (f", … ({len(value)} in all)" if len(value) > 8 else "")
        return f"{value:8.4f}"

    return "\n".join(f"{name:<{width}}  {shown(name, value)}" for name, value in metrics.items())
