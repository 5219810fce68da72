"""Latent inference: the variable r that explains what the context cannot predict.

Every latent kind has the same interface:

- ``infer(fx, fx_pos, action=None) -> LatentSample``: r for the pair during training (a
  reparameterised sample), its regularisation term ``reg`` (weighted by β in the loss), and
  ``aux``, an unweighted auxiliary loss (the sparse kind fits its rollout prior with it and adds
  its decorrelation penalty);
- ``posterior_mean(fx, fx_pos, action=None) -> (B, R)``: the deterministic r used by probes;
- ``sample_prior(fx, n) -> (n, B, R)``: n draws of r given the context only (rollouts);
- ``prior_mean(fx) -> (B, R)``: the single deterministic prior prediction.

Kinds: ``none`` (R=0), ``gaussian`` (AdaSSL-V), ``mixture`` (AdaSSL-V with a Gaussian-mixture
prior, for multimodal r), ``sparse`` (AdaSSL-S), ``oracle`` (r given), ``vq`` (LAPO's quantised latent action).

Reference:
    Self-Supervised Learning from Structural Invariance. Yipeng Zhang, Hafez Ghaemi, Jungyoon Lee,
    Shahab Bakhtiari, Eilif B. Muller, Laurent Charlin. ICLR 2026. https://arxiv.org/abs/2602.02381
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from worldmodel.models.encoders import mlp


@dataclass
class LatentSample:
    r: Tensor  # (B, R)
    reg: Tensor  # scalar, multiplied by β in the loss
    aux: Tensor  # scalar, added unweighted
    stats: dict[str, Tensor] = field(default_factory=dict)  # scalars to log


def gaussian_kl(mu_q: Tensor, sigma_q: Tensor, mu_p: Tensor, sigma_p: Tensor) -> Tensor:
    """KL(N(μ_q, σ_q²) ‖ N(μ_p, σ_p²)) per element, shapes broadcast."""
    return torch.log(sigma_p / sigma_q) + (sigma_q**2 + (mu_q - mu_p) ** 2) / (2 * sigma_p**2) - 0.5


def gaussian_scale(pre: Tensor, floor: float = 1e-4, logvar_clamp: float = 0.0) -> Tensor:
    """σ = softplus(pre) + floor, elementwise; with ``logvar_clamp`` c > 0, log σ² is clamped to [−c, c]
    (σ to [e^(−c/2), e^(c/2)], no gradient beyond), as the authors' code clamps the log-variance in its
    KL and reparameterisation."""
    sigma = F.softplus(pre) + floor
    return sigma.clamp(math.exp(-logvar_clamp / 2), math.exp(logvar_clamp / 2)) if logvar_clamp > 0 else sigma


def gaussian_log_density(x: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """log N(x; μ, σ²) per element, shapes broadcast."""
    return -0.5 * ((x - mu) / sigma) ** 2 - torch.log(sigma) - 0.5 * math.log(2 * math.pi)


ACTIVE_USAGE = 0.01
"""A dimension of r is active when its KL reaches this many nats (gaussian, mixture; batch mean) or its
mask's expected on-fraction, the batch mean of sigmoid(logit), reaches this share (sparse)."""


def mixture_kl_approx(mu_q: Tensor, sigma_q: Tensor, log_w: Tensor, mu_p: Tensor, sigma_p: Tensor) -> Tensor:
    """KL of each dimension's marginal, N(μ_q, σ_q²) against the mixture Σ_k w_k N(μ_k, σ_k²), in closed form.

    The variational approximation −log Σ_k w_k exp(−KL(q ‖ N_k)) (Hershey & Olsen 2007), ≥ 0 and exact
    when the components coincide. Unlike a one-sample Monte Carlo estimate it has no sampling noise,
    which at a batch of 64 exceeds the 0.01 nats that tell a live dimension from a dead one.

    Args:
        mu_q, sigma_q: (B, R) the posterior. log_w: (B, K) log mixture weights.
        mu_p, sigma_p: (B, K, R) the components.

    Returns:
        (B, R) nats per pair and dimension.

    Reference:
        Approximating the Kullback Leibler Divergence Between Gaussian Mixture Models. John R. Hershey,
        Peder A. Olsen. ICASSP 2007. https://doi.org/10.1109/ICASSP.2007.366913
    """
    per_component = gaussian_kl(mu_q.unsqueeze(-2), sigma_q.unsqueeze(-2), mu_p, sigma_p)  # (B, K, R)
    return -torch.logsumexp(log_w.unsqueeze(-1) - per_component, dim=-2)


def usage_stats(per_dim: Tensor, prefix: str, shift: Tensor, prior_std: Tensor) -> dict[str, Tensor]:
    """How much r carries, per dimension: detached scalars for the training log and eval.json.

    Args:
        per_dim: (R,) KL in nats per dimension (``prefix`` ``kl``) or expected mask-on fraction (``on``),
            batch means.
        shift: (B, R) posterior mean minus prior mean of each pair.
        prior_std: (B, R) the prior's standard deviation.

    Returns:
        ``{prefix}_dim{j}`` per dimension; ``active_dims``, how many reach :data:`ACTIVE_USAGE`; and
        ``r_spread``, max over dimensions of std_batch(shift) / rms_batch(prior_std): how far the
        posterior moves r from the prior, in prior standard deviations (0 when r ignores x⁺).
    """
    per_dim, shift, prior_std = per_dim.detach().float(), shift.detach().float(), prior_std.detach().float()
    spread = shift.std(0, correction=0) / prior_std.pow(2).mean(0).sqrt().clamp_min(1e-12)
    stats = {f"{prefix}_dim{j}": value for j, value in enumerate(per_dim)}
    return stats | {"active_dims": (per_dim >= ACTIVE_USAGE).sum().float(), "r_spread": spread.max()}


def free_bits_reg(kl: Tensor, kl_dims: Tensor, free_bits: float) -> Tensor:
    """KL with free bits λ (Kingma et al. 2016): kl + Σ_j max(0, λ − KL_j), i.e. Σ_j max(λ, KL_j) when the
    dimensions add up to kl. A dimension below λ nats costs nothing more to use. kl_dims (R,) batch means."""
    return kl + (free_bits - kl_dims).clamp_min(0).sum() if free_bits > 0 else kl


def gumbel_sigmoid(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Hard Bernoulli(sigmoid(logits)) mask with a straight-through Gumbel-sigmoid gradient.

    Forward value is 1[logits + L > 0] with L ~ Logistic(0, 1), so E[mask] = sigmoid(logits);
    the backward pass uses the gradient of sigmoid((logits + L) / temperature).

    Reference:
        The Concrete Distribution: A Continuous Relaxation of Discrete Random Variables. Chris J.
        Maddison, Andriy Mnih, Yee Whye Teh. ICLR 2017. https://arxiv.org/abs/1611.00712

        Categorical Reparameterization with Gumbel-Softmax. Eric Jang, Shixiang Gu, Ben Poole.
        ICLR 2017. https://arxiv.org/abs/1611.01144
    """
    u = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
    soft = torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / temperature)
    hard = (soft > 0.5).to(soft.dtype)
    return hard + soft - soft.detach()


def off_diagonal_correlation(r: Tensor, eps: float = 1e-4) -> Tensor:
    """Mean squared correlation between distinct coordinates of r (B, R) over the batch → scalar in [0, 1].

    0 when the coordinates are uncorrelated; 1 when they all code one thing. A coordinate that is
    constant over the batch (an inactive one) counts as uncorrelated.
    """
    if r.shape[-1] < 2:
        return r.new_zeros(())
    z = r - r.mean(0)
    cov = z.T @ z / r.shape[0]
    std = cov.diagonal().clamp_min(0).sqrt()
    corr = cov / (std[:, None] * std[None, :] + eps)
    off_diagonal = corr.pow(2).sum() - corr.diagonal().pow(2).sum()
    return off_diagonal / (r.shape[-1] * (r.shape[-1] - 1))


class NoLatent(nn.Module):
    """No latent: r has zero dimensions; the predictor sees f(x) alone."""

    dim = 0

    def _empty(self, fx: Tensor, *lead: int) -> Tensor:
        return fx.new_zeros(*lead, fx.shape[0], 0)

    def infer(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> LatentSample:
        zero = fx.new_zeros(())
        return LatentSample(self._empty(fx), zero, zero)

    def posterior_mean(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> Tensor:
        return self._empty(fx)

    def sample_prior(self, fx: Tensor, n: int) -> Tensor:
        return self._empty(fx, n)

    def prior_mean(self, fx: Tensor) -> Tensor:
        return self._empty(fx)


def latent_mlp(in_dim: int, hidden: int, out_dim: int, batch_norm: bool, input_norm: bool = False) -> nn.Sequential:
    """The three-layer ReLU MLP of posterior and prior networks (BatchNorm on the hidden layers if asked);
    with ``input_norm`` its input is first standardised per coordinate over the batch (BatchNorm without
    scale or shift)."""
    net = mlp(in_dim, hidden, out_dim, depth=3, act=nn.ReLU, batch_norm=batch_norm)
    return nn.Sequential(nn.BatchNorm1d(in_dim, affine=False), *net) if input_norm else net


class GaussianLatent(nn.Module):
    """AdaSSL-V: posterior q(r | f(x), f(x⁺)) and learned prior p(r | f(x)), both diagonal Gaussians.

    reg = KL(q ‖ p) summed over the R dimensions, mean over the batch (with ``free_bits`` λ > 0:
    :func:`free_bits_reg`). ``prior_outputs`` sets the width of the prior network's output (subclasses with
    other priors). Scales σ of posterior and prior: :func:`gaussian_scale` (``sigma_floor``, ``logvar_clamp``).

    The prior is conditional: KL(q ‖ p) charges only for what f(x) cannot predict, so r may also
    carry a function of f(x) for free (e.g. the next position rather than the acceleration).

    Reference:
        Self-Supervised Learning from Structural Invariance. Yipeng Zhang, Hafez Ghaemi, Jungyoon
        Lee, Shahab Bakhtiari, Eilif B. Muller, Laurent Charlin. ICLR 2026.
        https://arxiv.org/abs/2602.02381 (AdaSSL-V)
    """

    def __init__(self, emb_dim: int, dim: int, hidden: int, prior_outputs: int | None = None, batch_norm: bool = False,
                 free_bits: float = 0.0, sigma_floor: float = 1e-4, logvar_clamp: float = 0.0) -> None:
        super().__init__()
        self.dim = dim
        self.free_bits = free_bits
        self.sigma_floor, self.logvar_clamp = sigma_floor, logvar_clamp
        self.posterior = latent_mlp(2 * emb_dim, hidden, 2 * dim, batch_norm)
        self.prior = latent_mlp(emb_dim, hidden, prior_outputs or 2 * dim, batch_norm)

    def _split(self, out: Tensor) -> tuple[Tensor, Tensor]:
        mu, pre = out.float().chunk(2, dim=-1)
        return mu, gaussian_scale(pre, self.sigma_floor, self.logvar_clamp)

    def _posterior(self, fx: Tensor, fx_pos: Tensor) -> tuple[Tensor, Tensor]:
        return self._split(self.posterior(torch.cat([fx, fx_pos], dim=-1)))

    def infer(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> LatentSample:
        mu_q, sigma_q = self._posterior(fx, fx_pos)
        mu_p, sigma_p = self._split(self.prior(fx))
        r = mu_q + sigma_q * torch.randn_like(mu_q)
        kl_dims = gaussian_kl(mu_q, sigma_q, mu_p, sigma_p).mean(0)
        kl = kl_dims.sum()
        stats = {"kl": kl.detach(), "posterior_std": sigma_q.mean().detach()}
        stats |= usage_stats(kl_dims, "kl", mu_q - mu_p, sigma_p)
        return LatentSample(r, free_bits_reg(kl, kl_dims, self.free_bits), kl.new_zeros(()), stats)

    def posterior_mean(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> Tensor:
        return self._posterior(fx, fx_pos)[0]

    def log_prior(self, r: Tensor, fx: Tensor) -> Tensor:
        """log p(r | f(x)): r (..., B, R), fx (B, D) → (..., B)."""
        mu, sigma = self._split(self.prior(fx))
        return gaussian_log_density(r, mu, sigma).sum(-1)

    def sample_prior(self, fx: Tensor, n: int) -> Tensor:
        mu, sigma = self._split(self.prior(fx))
        return mu + sigma * torch.randn(n, *mu.shape, device=mu.device, dtype=mu.dtype)

    def prior_mean(self, fx: Tensor) -> Tensor:
        return self._split(self.prior(fx))[0]


class MixtureLatent(GaussianLatent):
    """Gaussian posterior q(r | f(x), f(x⁺)) with a K-component Gaussian-mixture prior p(r | f(x)).

    The prior network gives, per sample, mixture weights w (B, K) (softmax of logits), means
    μ (B, K, R) and scales σ (B, K, R) (softplus). KL(q ‖ p) has no closed form; reg is its
    one-sample Monte Carlo estimate at the reparameterised r ~ q:
    reg = mean_b [log q(r_b) − log p(r_b)], log p(r) = logsumexp_k (log w_k + Σ_j log N(r_j; μ_kj, σ_kj²)).
    With ``free_bits``, :func:`free_bits_reg` on the per-dimension KLs of the marginals (the same
    estimate with each dimension's mixture alone). The per-dimension usage in the log (``kl_dim*``,
    ``active_dims``) is the noise-free :func:`mixture_kl_approx`. Logged: ``kl``, ``posterior_std``, and ``prior_modes`` =
    exp(entropy of the batch-mean weights), the effective number of components in use (1 … K).

    Reference (AdaSSL-V, whose unimodal prior this replaces for multimodal r):
        Self-Supervised Learning from Structural Invariance. Yipeng Zhang, Hafez Ghaemi, Jungyoon
        Lee, Shahab Bakhtiari, Eilif B. Muller, Laurent Charlin. ICLR 2026.
        https://arxiv.org/abs/2602.02381
    """

    def __init__(self, emb_dim: int, dim: int, hidden: int, components: int, batch_norm: bool = False,
                 free_bits: float = 0.0, sigma_floor: float = 1e-4, logvar_clamp: float = 0.0) -> None:
        if components < 1:
            raise ValueError(f"model.latent.components must be ≥ 1, got {components}")
        super().__init__(emb_dim, dim, hidden, components * (1 + 2 * dim), batch_norm, free_bits, sigma_floor,
                         logvar_clamp)
        self.components = components

    def _mixture(self, fx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Prior of (B, D) contexts: log weights (B, K), means (B, K, R), scales (B, K, R)."""
        out = self.prior(fx).float()
        logits, rest = out[..., : self.components], out[..., self.components :]
        mu, sigma = self._split(rest.unflatten(-1, (self.components, 2 * self.dim)))
        return torch.log_softmax(logits, dim=-1), mu, sigma

    def log_prior(self, r: Tensor, fx: Tensor) -> Tensor:
        """log p(r | f(x)): r (..., B, R), fx (B, D) → (..., B)."""
        log_w, mu, sigma = self._mixture(fx)
        per_component = gaussian_log_density(r.unsqueeze(-2), mu, sigma).sum(-1)  # (..., B, K)
        return torch.logsumexp(log_w + per_component, dim=-1)

    def infer(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> LatentSample:
        mu_q, sigma_q = self._posterior(fx, fx_pos)
        r = mu_q + sigma_q * torch.randn_like(mu_q)
        log_w, mu_p, sigma_p = self._mixture(fx)  # the prior network runs once per forward pass
        log_q_dims = gaussian_log_density(r, mu_q, sigma_q)  # (B, R)
        log_pk_dims = gaussian_log_density(r.unsqueeze(-2), mu_p, sigma_p)  # (B, K, R), shared by the KL and its marginals
        kl = (log_q_dims.sum(-1) - torch.logsumexp(log_w + log_pk_dims.sum(-1), dim=-1)).mean()
        weights = log_w.exp().unsqueeze(-1)  # (B, K, 1)
        log_p_dims = torch.logsumexp(log_w.unsqueeze(-1) + log_pk_dims, dim=-2)
        kl_dims = (log_q_dims - log_p_dims).mean(0)  # (R,) KL of each marginal
        kl_usage = mixture_kl_approx(mu_q, sigma_q, log_w, mu_p, sigma_p).mean(0)
        prior_mean = (weights * mu_p).sum(-2)
        prior_var = (weights * (sigma_p**2 + mu_p**2)).sum(-2) - prior_mean**2
        mean_weights = weights.squeeze(-1).mean(0)
        modes = torch.exp(-(mean_weights * torch.log(mean_weights.clamp_min(1e-12))).sum())
        stats = {"kl": kl.detach(), "posterior_std": sigma_q.mean().detach(), "prior_modes": modes.detach()}
        stats |= usage_stats(kl_usage, "kl", mu_q - prior_mean, prior_var.clamp_min(0).sqrt())
        return LatentSample(r, free_bits_reg(kl, kl_dims, self.free_bits), kl.new_zeros(()), stats)

    def sample_prior(self, fx: Tensor, n: int) -> Tensor:
        """n draws (n, B, R): a component k ~ Categorical(w), then r ~ N(μ_k, σ_k²)."""
        log_w, mu, sigma = self._mixture(fx)
        k = torch.distributions.Categorical(logits=log_w).sample((n,))  # (n, B)
        index = k[..., None, None].expand(n, *mu.shape[:1], 1, self.dim)
        pick = lambda t: t.expand(n, *t.shape).gather(2, index).squeeze(2)  # (n, B, R)
        return pick(mu) + pick(sigma) * torch.randn(n, *mu.shape[:1], self.dim, device=mu.device, dtype=mu.dtype)

    def prior_mean(self, fx: Tensor) -> Tensor:
        """Mean of the mixture, Σ_k w_k μ_k: (B, R)."""
        log_w, mu, _ = self._mixture(fx)
        return (log_w.exp().unsqueeze(-1) * mu).sum(-2)


class SparseLatent(nn.Module):
    """AdaSSL-S: r = m ⊙ v with m a Gumbel-sigmoid mask (straight-through) and v values, from (f(x), f(x⁺)).

    With ``value_noise`` σ > 0 the values are v = tanh(·) + σ·ε in training (posterior mean tanh(·)):
    the L0 term limits how many coordinates are active, the noise how much each can carry.

    reg = E[‖m‖₀] = Σ_k sigmoid(logits_k), mean over the batch (the L0 penalty). Its gradient on a logit,
    σ(l)(1 − σ(l)), vanishes once a coordinate is on in every pair (logits of 10–20 within a few hundred
    steps), and the mask then stays on where its factor did not change. With ``l0_unsaturated`` the
    value is the same but the gradient is σ(l), that of softplus(l) = −log P(off): an always-on
    coordinate keeps being pushed off until only the pairs that need it hold it on.
    With ``input_norm`` the posterior and prior networks see each embedding coordinate standardised over
    the batch: a move along a narrow axis of f then reaches the mask logits as strongly as one along a
    wide axis, where otherwise the logit of a narrow axis's coordinate barely follows its moves (it also
    shows the mask the small moves of spare axes: docs/results/camera_pan.md).
    With ``decorrelation`` λ > 0, ``aux`` also holds λ · :func:`off_diagonal_correlation` (r): two
    coordinates that code the same thing (both the y move, none the x move) are charged, so the L0
    term switches the duplicate off and a coordinate is left free for what r does not yet carry.
    A prior over masks and values given f(x) is fitted on stop-gradient copies (``aux``), so it
    never shapes the representation but lets rollouts sample r: m ~ Bernoulli(π(f(x))),
    v ~ N(μ(f(x)), σ(f(x))²).

    Reference:
        Self-Supervised Learning from Structural Invariance. Yipeng Zhang, Hafez Ghaemi, Jungyoon
        Lee, Shahab Bakhtiari, Eilif B. Muller, Laurent Charlin. ICLR 2026.
        https://arxiv.org/abs/2602.02381 (AdaSSL-S)

        Learning Sparse Neural Networks through L0 Regularization. Christos Louizos, Max Welling,
        Diederik P. Kingma. ICLR 2018. https://arxiv.org/abs/1712.01312 (the L0 penalty as the
        expected number of open gates)
    """

    def __init__(self, emb_dim: int, dim: int, hidden: int, temperature: float, value_noise: float = 0.0,
                 batch_norm: bool = False, decorrelation: float = 0.0, l0_unsaturated: bool = False,
                 input_norm: bool = False) -> None:
        super().__init__()
        if value_noise < 0:
            raise ValueError(f"model.latent.value_noise must be ≥ 0, got {value_noise}")
        self.dim = dim
        self.temperature = temperature
        self.value_noise = value_noise
        self.decorrelation = decorrelation
        self.l0_unsaturated = l0_unsaturated
        self.posterior = latent_mlp(2 * emb_dim, hidden, 2 * dim, batch_norm, input_norm)
        self.prior = latent_mlp(emb_dim, hidden, 3 * dim, batch_norm, input_norm)

    def _posterior(self, fx: Tensor, fx_pos: Tensor) -> tuple[Tensor, Tensor]:
        """Mask logits and values (B, R); with ``value_noise`` the values are tanh-bounded."""
        logits, values = self.posterior(torch.cat([fx, fx_pos], dim=-1)).float().chunk(2, dim=-1)
        return logits, torch.tanh(values) if self.value_noise > 0 else values

    def _prior(self, fx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        logits, mu, pre = self.prior(fx).float().chunk(3, dim=-1)
        return logits, mu, F.softplus(pre) + 1e-4

    def infer(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> LatentSample:
        logits, mean_values = self._posterior(fx, fx_pos)
        values = mean_values
        if self.value_noise > 0:  # bounded values plus noise: an active coordinate carries limited information
            values = values + self.value_noise * torch.randn_like(values)
        mask = gumbel_sigmoid(logits, self.temperature)
        prob = torch.sigmoid(logits)
        l0 = prob.sum(-1).mean()
        if self.l0_unsaturated:  # the same value; the gradient of softplus(l) = −log P(off) per logit: σ(l)
            log_odds_cost = F.softplus(logits).sum(-1).mean()
            l0 = l0.detach() + log_odds_cost - log_odds_cost.detach()
        p_logits, p_mu, p_sigma = self._prior(fx.detach())
        target_prob, target_values = prob.detach(), values.detach()
        mask_fit = F.binary_cross_entropy_with_logits(p_logits, target_prob, reduction="none").sum(-1)
        value_nll = (target_prob * (torch.log(p_sigma) + (target_values - p_mu) ** 2 / (2 * p_sigma**2))).sum(-1)
        aux = (mask_fit + value_nll).mean()
        r = mask * values
        redundancy = off_diagonal_correlation(r)
        stats = {"l0": l0.detach(), "active": (mask > 0.5).float().sum(-1).mean().detach(),
                 "r_correlation": redundancy.detach()}
        p_on = torch.sigmoid(p_logits)  # the fitted prior: mask ~ Bernoulli(p_on), values ~ N(μ, σ²)
        prior_var = p_on * (p_sigma**2 + p_mu**2) - (p_on * p_mu) ** 2
        shift = (logits > 0).to(values.dtype) * mean_values - p_on * p_mu  # posterior_mean − prior_mean
        stats |= usage_stats(prob.mean(0), "on", shift, prior_var.clamp_min(0).sqrt())
        stats |= {f"open_dim{j}": value for j, value in enumerate((logits > 0).float().mean(0).detach())}
        if self.decorrelation > 0:
            aux = aux + self.decorrelation * redundancy
        return LatentSample(r, l0, aux, stats)

    def posterior_mean(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> Tensor:
        """The deterministic r of a pair: values where the mask is more likely on than off, exact zeros
        elsewhere, as the predictor sees a hard mask. (The expectation sigmoid(logits) · values would
        leak the values of switched-off coordinates: scaled by 1e-9, but probes standardise them back.)"""
        logits, values = self._posterior(fx, fx_pos)
        return (logits > 0).to(values.dtype) * values

    def sample_prior(self, fx: Tensor, n: int) -> Tensor:
        logits, mu, sigma = self._prior(fx)
        shape = (n, *mu.shape)
        mask = torch.bernoulli(torch.sigmoid(logits).expand(shape))
        return mask * (mu + sigma * torch.randn(shape, device=mu.device, dtype=mu.dtype))

    def prior_mean(self, fx: Tensor) -> Tensor:
        logits, mu, _ = self._prior(fx)
        return torch.sigmoid(logits) * mu


class OracleLatent(nn.Module):
    """r is the true action given by the data, as in action-conditioned world models.

    The reverse direction (x⁺ → x) uses the negated action, which holds for displacements and
    latent differences. There is no learned prior: rollouts of an oracle run need actions.

    Reference (action-conditioned predictors on frozen or self-supervised embeddings):
        DINO-WM: World Models on Pre-trained Visual Features enable Zero-shot Planning. Gaoyue Zhou,
        Hengkai Pan, Yann LeCun, Lerrel Pinto. ICML 2025. https://arxiv.org/abs/2411.04983

        V-JEPA 2: Self-Supervised Video Models Enable Understanding, Prediction and Planning.
        Mido Assran et al. arXiv 2025. https://arxiv.org/abs/2506.09985
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def _action(self, action: Tensor | None) -> Tensor:
        if action is None:
            raise ValueError("model.latent.kind 'oracle' needs an 'action' in every batch; this dataset has none")
        if action.shape[-1] != self.dim:
            raise ValueError(f"oracle latent: action has {action.shape[-1]} dims, model.latent.dim is {self.dim}")
        return action.float()

    def infer(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> LatentSample:
        zero = fx.new_zeros(())
        return LatentSample(self._action(action), zero, zero)

    def posterior_mean(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> Tensor:
        return self._action(action)

    def sample_prior(self, fx: Tensor, n: int) -> Tensor:
        raise NotImplementedError("an oracle latent has no prior to sample: pass the actions instead")

    def prior_mean(self, fx: Tensor) -> Tensor:
        raise NotImplementedError("an oracle latent has no prior mean: pass the actions instead")


class VQLatent(nn.Module):
    """LAPO-style latent action: inverse dynamics z_e = g(f(x), f(x⁺)) (B, R) through a vector-quantised
    bottleneck of K codes (VQ-VAE), so r is one of K learned vectors.

    r = z_e + sg(e_k − z_e) with k = argmin_j ‖z_e − e_j‖: the forward value is the code e_k, the
    gradient reaches z_e unchanged (straight-through). reg = ‖z_e − sg(e_k)‖² summed over the R
    dimensions, mean over the batch (the commitment loss, weighted by β). The codebook (K, R) is
    not trained by gradients but follows an exponential moving average (decay ``decay``) of the
    z_e assigned to each code, with Laplace smoothing of the counts; it starts from the first
    training batch's z_e, and a code left (nearly) unused (EMA count < 1 pair per batch) restarts
    at a z_e of the batch. A categorical prior p(k | f(x)) is fitted on stop-gradient copies
    (``aux``, cross-entropy to the chosen codes) so that rollouts can sample r = e_k.
    Logged: ``commitment`` and ``perplexity`` = exp(entropy of the batch's code usage) (1 … K).

    Reference:
        Learning to Act without Actions (LAPO). Dominik Schmidt, Minqi Jiang. ICLR 2024.
        https://arxiv.org/abs/2312.10812
        Neural Discrete Representation Learning (VQ-VAE). Aaron van den Oord, Oriol Vinyals, Koray
        Kavukcuoglu. NeurIPS 2017. https://arxiv.org/abs/1711.00937
    """

    def __init__(self, emb_dim: int, dim: int, hidden: int, codes: int, decay: float = 0.99,
                 batch_norm: bool = False) -> None:
        super().__init__()
        if codes < 2:
            raise ValueError(f"model.latent.codes must be ≥ 2, got {codes}")
        self.dim, self.codes, self.decay = dim, codes, decay
        self.dead_count = 1.0  # a code chosen by fewer than one pair per batch (EMA) is restarted
        self.posterior = latent_mlp(2 * emb_dim, hidden, dim, batch_norm)
        self.prior = latent_mlp(emb_dim, hidden, codes, batch_norm)
        self.register_buffer("codebook", torch.randn(codes, dim))
        self.register_buffer("ema_count", torch.ones(codes))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def quantise(self, z_e: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """z_e (B, R) → (r (B, R) straight-through codes, code index (B,), commitment loss scalar)."""
        index = torch.cdist(z_e, self.codebook.to(z_e.dtype)).argmin(-1)
        z_q = self.codebook[index].to(z_e.dtype)
        commitment = (z_e - z_q).pow(2).sum(-1).mean()
        return z_e + (z_q - z_e).detach(), index, commitment

    @torch.no_grad()
    def _initialise(self, z_e: Tensor) -> None:
        """Codes drawn from the rows of the first training batch's z_e (B, R), slightly perturbed."""
        rows = torch.randint(len(z_e), (self.codes,), device=z_e.device)
        self.codebook.copy_(z_e[rows] + 1e-3 * torch.randn_like(self.codebook))
        self.ema_sum.copy_(self.codebook)
        self.ema_count.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _update_codebook(self, z_e: Tensor, index: Tensor) -> None:
        """EMA of the counts and sums of the z_e (B, R) assigned to each code (index (B,));
        codebook = sum / Laplace-smoothed count."""
        one_hot = F.one_hot(index, self.codes).to(z_e.dtype)
        self.ema_count.mul_(self.decay).add_(one_hot.sum(0), alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(one_hot.T @ z_e, alpha=1 - self.decay)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + 1e-5) / (total + self.codes * 1e-5) * total
        self.codebook.copy_(self.ema_sum / smoothed[:, None])
        dead = self.ema_count < self.dead_count
        if dead.any():  # restart unused codes at random z_e of the batch (as in Jukebox), so none stays idle
            rows = torch.randint(len(z_e), (int(dead.sum()),), device=z_e.device)
            self.codebook[dead] = z_e[rows]
            self.ema_sum[dead] = z_e[rows]
            self.ema_count[dead] = 1.0

    def _encode(self, fx: Tensor, fx_pos: Tensor) -> Tensor:
        return self.posterior(torch.cat([fx, fx_pos], dim=-1)).float()

    def infer(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> LatentSample:
        z_e = self._encode(fx, fx_pos)
        if self.training and not self.initialised:
            self._initialise(z_e.detach())
        r, index, commitment = self.quantise(z_e)
        if self.training:
            self._update_codebook(z_e.detach(), index)
        aux = F.cross_entropy(self.prior(fx.detach()).float(), index)
        usage = torch.bincount(index, minlength=self.codes).float() / len(index)
        perplexity = torch.exp(-(usage * torch.log(usage.clamp_min(1e-12))).sum())
        return LatentSample(r, commitment, aux, {"commitment": commitment.detach(), "perplexity": perplexity})

    def posterior_mean(self, fx: Tensor, fx_pos: Tensor, action: Tensor | None = None) -> Tensor:
        """The pair's code e_k (B, R)."""
        return self.quantise(self._encode(fx, fx_pos))[0]

    def sample_prior(self, fx: Tensor, n: int) -> Tensor:
        """n draws (n, B, R): k ~ p(k | f(x)), r = e_k."""
        k = torch.distributions.Categorical(logits=self.prior(fx).float()).sample((n,))
        return self.codebook[k]

    def prior_mean(self, fx: Tensor) -> Tensor:
        """Σ_k p(k | f(x)) e_k: (B, R)."""
        return torch.softmax(self.prior(fx).float(), -1) @ self.codebook


KIND_OPTIONS = {"free_bits": ("gaussian", "mixture"), "input_norm": ("sparse",)}
"""Options of ``model.latent`` that only some kinds have: setting one for another latent is an error
(kind ``none`` ignores every latent option, so ``model.latent.kind=none`` turns off r in any config)."""


def build_latent(cfg, emb_dim: int) -> nn.Module:
    """Latent kind named by ``cfg.kind`` (a LatentConfig) for embeddings of size emb_dim."""
    if cfg.kind == "none":
        return NoLatent()
    for key, kinds in KIND_OPTIONS.items():
        if getattr(cfg, key) and cfg.kind not in kinds:
            raise ValueError(f"model.latent.{key} ({getattr(cfg, key)}) applies to {' and '.join(kinds)} latents; "
                             f"model.latent.kind is {cfg.kind!r}")
    if cfg.kind == "gaussian":
        return GaussianLatent(emb_dim, cfg.dim, cfg.hidden, batch_norm=cfg.batch_norm, free_bits=cfg.free_bits,
                              sigma_floor=cfg.sigma_floor, logvar_clamp=cfg.logvar_clamp)
    if cfg.kind == "mixture":
        return MixtureLatent(emb_dim, cfg.dim, cfg.hidden, cfg.components, cfg.batch_norm, cfg.free_bits,
                             cfg.sigma_floor, cfg.logvar_clamp)
    if cfg.kind == "sparse":
        return SparseLatent(emb_dim, cfg.dim, cfg.hidden, cfg.temperature, cfg.value_noise, cfg.batch_norm,
                            cfg.decorrelation, cfg.l0_unsaturated, cfg.input_norm)
    if cfg.kind == "oracle":
        return OracleLatent(cfg.dim)
    if cfg.kind == "vq":
        return VQLatent(emb_dim, cfg.dim, cfg.hidden, cfg.codes, batch_norm=cfg.batch_norm)
    raise ValueError(f"model.latent.kind {cfg.kind!r}; expected none, gaussian, mixture, sparse, oracle or vq")
