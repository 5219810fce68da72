"""The world model: encoder f, target branch, latent r, predictor t(f(x), r), objective.

    f(x), f(x⁺)          online encoder on context and target
    g(x), g(x⁺)          target branch: the online encoder itself, or its EMA copy (no gradient)
    r ~ q(r | f(x), f(x⁺))   latent inference (or none / oracle), from the online embeddings
                         of both clips, so the encoder learns to show what r must explain
                         (``model.latent.posterior_on_target``: q(r | f(x), g(x⁺)), the EMA
                         target's view of x⁺ without gradient, as in the authors' BYOL code)
    ŷ = t(f(x), r)       prediction of g(x⁺)
    L = L_ssl(ŷ, g(x⁺)) + β · reg(r) + aux + λ · E(ŷ, g(x⁺)) [+ μ · (V + C)(f(x), f(x⁺))]
          [+ κ · E_coord(t(sg f(x), r), g(x⁺))] [+ α · NT-Xent(h(f(a₁(x))), h(f(a₂(x))))]

E is the embedding-space prediction error (:mod:`worldmodel.objectives.prediction_error`), λ =
``objective.embedding_weight`` (0 by default; E is logged either way as ``embedding_error``); V + C
VICReg's variance and covariance terms on the batch's online embeddings (:mod:`worldmodel.objectives.
variance`), μ = ``objective.variance_weight`` (0 by default: not computed). E_coord is E per
coordinate, each against its own spread, of a prediction from the detached f(x): it trains r and the
predictor, and reaches the encoder only through what the posterior reads; κ =
``objective.coordinate_fit_weight`` (0 by default: not computed). The last term is SimCLR on two random
augmentations a₁, a₂ of each context clip through a projection head h
(:mod:`worldmodel.objectives.augment`), α = ``objective.augment_weight`` (0 by default: not computed):
it makes the encoder keep what tells clips apart, a body's pose, besides what predicts x⁺.

With ``symmetric`` both directions (x→x⁺ and x⁺→x) are stacked, as in the paper.

The forward pass also returns the collapse monitor's statistics (detached, see
:func:`collapse_stats`), which the training loop logs and checks with the collapse alarm.

References:
    Self-Supervised Learning from Structural Invariance. Yipeng Zhang, Hafez Ghaemi, Jungyoon Lee,
    Shahab Bakhtiari, Eilif B. Muller, Laurent Charlin. ICLR 2026. https://arxiv.org/abs/2602.02381
    (AdaSSL: the latent r, its regulariser, the predictor t)

    Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning. Jean-Bastien Grill et al.
    NeurIPS 2020. https://arxiv.org/abs/2006.07733 (the EMA target branch)

    Self-Supervised Learning from Images with a Joint-Embedding Predictive Architecture. Mahmoud
    Assran et al. CVPR 2023. https://arxiv.org/abs/2301.08243 (prediction in embedding space, JEPA)

    The Common Stability Mechanism behind most Self-Supervised Learning Approaches. Abhishek Jha,
    Matthew B. Blaschko, Yuki M. Asano, Tinne Tuytelaars. arXiv 2024. https://arxiv.org/abs/2402.14957
    (the centre-vector statistics of :func:`collapse_stats`)
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import Tensor, nn

from worldmodel.config import Config
from worldmodel.models.encoders import build_encoder
from worldmodel.models.latents import build_latent
from worldmodel.models.predictors import build_predictor
from worldmodel.objectives import build_objective
from worldmodel.objectives.augment import AugmentContrast
from worldmodel.objectives.centre import centre_norm, residual_norm
from worldmodel.objectives.prediction_error import coordinate_prediction_error, embedding_prediction_error
from worldmodel.objectives.variance import variance_covariance



@torch.no_grad()
def collapse_stats(online: Tensor, targets: Tensor) -> dict[str, Tensor]:
    """Scalars that signal collapse, without gradient.

    Args:
        online: (B, D) online embeddings f(x).
        targets: (V, B, D) target embeddings, the V directions' targets as views of each pair.

    Returns:
        ``centre_norm`` ‖s‖ and ``residual_norm`` ρ of the normalised targets (see
        :mod:`worldmodel.objectives.centre`), and ``embedding_std``, the batch standard deviation
        of the online embeddings averaged over the D dimensions (0 for a constant encoder).
    """
    return {"centre_norm": centre_norm(targets), "residual_norm": residual_norm(targets),
            "embedding_std": online.float().std(dim=0).mean()}


class WorldModel(nn.Module):
    """Shapes: batch["context"], batch["target"] (B, *in_shape); batch["action"] (B, A) optional."""

    def __init__(self, cfg: Config, in_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.symmetric = cfg.objective.symmetric
        self.embedding_weight = cfg.objective.embedding_weight
        self.variance_weight = cfg.objective.variance_weight
        self.coordinate_fit_weight = cfg.objective.coordinate_fit_weight
        self.augment_weight = cfg.objective.augment_weight
        self.encoder = build_encoder(cfg.model.encoder, in_shape)
        dim = self.encoder.out_dim
        self.augment_contrast = None
        if self.augment_weight:
            if len(in_shape) != 4:
                raise ValueError(f"objective.augment_weight augments clips (k, C, H, W); this data's items are {tuple(in_shape)}: "
                                 f"set objective.augment_weight=0")
            self.augment_contrast = AugmentContrast(dim, tuple(in_shape[-2:]), cfg.objective.augment_crop,
                                                    cfg.objective.augment_temperature)
        self.latent = build_latent(cfg.model.latent, dim)
        self.predictor = build_predictor(cfg.model.predictor, dim, self.latent.dim, self.encoder.token_shape)
        self.objective = build_objective(dim, cfg.objective)
        self.target_encoder = None
        if self.objective.needs_ema_target:
            self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.posterior_on_target = cfg.model.latent.posterior_on_target and self.target_encoder is not None

    @classmethod
    def to_load(cls, cfg: Config, in_shape: tuple[int, ...]) -> "WorldModel":
        """An untrained model of ``cfg`` to load trained weights into: a pretrained backbone's weights file
        (``model.encoder.weights``) is not read, since the trained state dict holds the backbone too, so a
        run or a saved model loads where that file is not."""
        encoder = dataclasses.replace(cfg.model.encoder, weights="")
        return cls(dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, encoder=encoder)), in_shape)

    def encode(self, x: Tensor) -> Tensor:
        """(B, *in_shape) → (B, D) online embeddings (what probes read)."""
        return self.encoder(x)

    def posterior_inputs(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """f(x) and f(x⁺) (B, D) of a batch's contexts and targets, what the posterior q(r | f(x), f(x⁺))
        reads in the forward direction (as probes and the prior refit read it); g(x⁺), without gradient,
        in place of f(x⁺) when the posterior reads the EMA target."""
        fx = self.encode(batch["context"])
        if self.posterior_on_target:
            with torch.no_grad():
                return fx, self.target_encoder(batch["target"])
        return fx, self.encode(batch["target"])

    def _targets(self, context: Tensor, target: Tensor, fx: Tensor, fx_pos: Tensor) -> tuple[Tensor, Tensor]:
        if self.target_encoder is None:
            return fx, fx_pos
        with torch.no_grad():
            return self.target_encoder(context), self.target_encoder(target)

    def forward(self, batch: dict[str, Tensor], beta: float) -> dict[str, Tensor]:
        """Losses for one batch: ``loss`` (to minimise), ``ssl``, ``reg``, ``aux``, latent stats and
        :func:`collapse_stats` (all scalars)."""
        context, target, action = batch["context"], batch["target"], batch.get("action")
        fx, fx_pos = self.encode(context), self.encode(target)
        gx, gx_pos = self._targets(context, target, fx, fx_pos)

        seen_pos, seen = (gx_pos, gx) if self.posterior_on_target else (fx_pos, fx)  # what q reads of x⁺, x
        directions = [(fx, seen_pos, gx_pos, action)]
        if self.symmetric:
            directions.append((fx_pos, seen, gx, None if action is None else -action))
        preds, samples = [], []
        for start, seen, aim, act in directions:
            sample = self.latent.infer(start, seen, act)
            preds.append(self.predictor(start, sample.r))
            samples.append(sample)
        pred = torch.stack(preds)
        aims = torch.stack([d[2] for d in directions])
        starts = torch.stack([d[0] for d in directions])

        ssl = self.objective(pred, aims, starts)
        reg = torch.stack([s.reg for s in samples]).mean()
        aux = torch.stack([s.aux for s in samples]).mean()
        embedding_error = embedding_prediction_error(pred, aims)
        loss = ssl + beta * reg + aux + self.embedding_weight * embedding_error
        terms = {}
        if self.variance_weight:
            spread, covariance = variance_covariance(torch.cat([fx, fx_pos]))
            loss = loss + self.variance_weight * (spread + covariance)
            terms = {"variance_term": spread.detach(), "covariance_term": covariance.detach()}
        if self.coordinate_fit_weight:
            fits = torch.stack([self.predictor(d[0].detach(), s.r) for d, s in zip(directions, samples)])
            coordinate_fit = coordinate_prediction_error(fits, aims)
            loss = loss + self.coordinate_fit_weight * coordinate_fit
            terms["coordinate_fit"] = coordinate_fit.detach()
        if self.augment_contrast is not None:
            augment_term = self.augment_contrast(self.encoder, context)
            loss = loss + self.augment_weight * augment_term
            terms["augment_term"] = augment_term.detach()
        out = {"loss": loss, "ssl": ssl, "reg": reg, "aux": aux, "embedding_error": embedding_error.detach()} | terms
        for key in samples[0].stats:
            out[key] = torch.stack([s.stats[key] for s in samples]).mean()
        return out | collapse_stats(fx, aims)

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """EMA: θ_target ← m θ_target + (1 − m) θ_online (no-op without a target encoder)."""
        if self.target_encoder is None:
            return
        for t, o in zip(self.target_encoder.parameters(), self.encoder.parameters()):
            t.lerp_(o.detach(), 1 - momentum)
        for t, o in zip(self.target_encoder.buffers(), self.encoder.buffers()):
            t.copy_(o)
