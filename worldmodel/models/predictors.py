"""Predictors t(f(x), r): edit the context embedding with the latent to predict f(x⁺).

Shapes: fx (..., D), r (..., R) → (..., D). Leading dimensions broadcast, so rollouts can
pass (n, B, D) embeddings with (n, B, R) samples in one call.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from worldmodel.models.encoders import mlp


class AdditivePredictor(nn.Module):
    """t(f, r) = f + r (R = D), or f when there is no latent (R = 0)."""

    def __init__(self, emb_dim: int, r_dim: int) -> None:
        super().__init__()
        if r_dim not in (0, emb_dim):
            raise ValueError(
                f"additive predictor needs model.latent.dim == embedding dim ({emb_dim}) or no latent; got {r_dim}"
            )

    def forward(self, fx: Tensor, r: Tensor) -> Tensor:
        return fx + r if r.shape[-1] else fx


class MLPPredictor(nn.Module):
    """t(f, r) = f + MLP([f, r]); the last layer starts at zero, so t is the identity at init."""

    def __init__(self, emb_dim: int, r_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = mlp(emb_dim + r_dim, hidden, emb_dim, depth=3, act=nn.ReLU)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, fx: Tensor, r: Tensor) -> Tensor:
        return fx + self.net(torch.cat([fx, r.to(fx.dtype)], dim=-1))


class ModularPredictor(nn.Module):
    """Low-rank modules switched by r: t(f, r) = f + Σ_i r_i (B_i A_i f + b_i).

    A_i: (rank, D), B_i: (D, rank), b_i: (D,). B and b start at zero, so t is the identity at
    initialisation for every r. With rank 0 there are no A, B: t(f, r) = f + Σ_i r_i b_i, a learned
    linear map of r into the embedding.

    ``tied_bias``: module i's bias lies in B_i's span, t(f, r) = f + Σ_i r_i B_i (A_i f + a_i) with
    a_i: (rank,) (needs rank ≥ 1). ``squash``: tanh(r_i) replaces r_i. Both with rank 1 give the
    authors' AdaSSL-S edit f + B (tanh(r) ⊙ (A f + a)) (github.com/SkrighYZ/AdaSSL, models/wrapper.py).
    """

    def __init__(self, emb_dim: int, r_dim: int, rank: int, squash: bool = False, tied_bias: bool = False) -> None:
        super().__init__()
        if tied_bias and not rank:
            raise ValueError("modular predictor: model.predictor.tied_bias ties the bias to B; "
                             "expected model.predictor.rank ≥ 1, got 0")
        self.squash, self.tied_bias = squash, tied_bias
        self.A = nn.Parameter(torch.randn(r_dim, rank, emb_dim) / emb_dim**0.5) if rank else None
        self.B = nn.Parameter(torch.zeros(r_dim, emb_dim, rank)) if rank else None
        self.b = nn.Parameter(torch.zeros(r_dim, rank if tied_bias else emb_dim))

    def forward(self, fx: Tensor, r: Tensor) -> Tensor:
        r = r.to(fx.dtype)
        if self.squash:
            r = torch.tanh(r)
        out = fx if self.tied_bias else fx + r @ self.b  # f (+ Σ_i r_i b_i)
        if self.A is not None:
            low = torch.einsum("ikd,...d->...ik", self.A, fx)  # (..., R, rank)
            if self.tied_bias:
                low = low + self.b
            out = out + torch.einsum("...i,...id->...d", r, torch.einsum("idk,...ik->...id", self.B, low))
        return out


class TokenPredictor(nn.Module):
    """Transformer over the N feature-map tokens of f, with r as one extra token.

    f (..., N·c) is read as N tokens of c channels (the encoder's ``token_shape``); r (..., R) is
    mapped to one more token; after ``depth`` pre-norm transformer layers (learned positions),
    a zero-initialised linear map of the N output tokens is added to f, so t is the identity at
    initialisation. Without a latent (R = 0) there is no r token.
    """

    def __init__(self, token_shape: tuple[int, int], r_dim: int, depth: int, heads: int) -> None:
        super().__init__()
        n, c = token_shape
        if c % heads:
            raise ValueError(f"tokens predictor: model.predictor.heads ({heads}) must divide model.encoder.token_dim ({c})")
        self.token_shape = (n, c)
        self.r_token = nn.Linear(r_dim, c) if r_dim else None
        self.position = nn.Parameter(0.02 * torch.randn(n + bool(r_dim), c))
        layer = nn.TransformerEncoderLayer(c, heads, dim_feedforward=2 * c, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.out = nn.Linear(c, c)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, fx: Tensor, r: Tensor) -> Tensor:
        n, c = self.token_shape
        lead = fx.shape[:-1]
        tokens = fx.reshape(-1, n, c)
        if self.r_token is not None:
            r_tok = self.r_token(r.to(fx.dtype).reshape(-1, r.shape[-1])).unsqueeze(1)
            tokens = torch.cat([tokens, r_tok], dim=1)
        edited = self.out(self.blocks(tokens + self.position))[:, :n]
        return fx + edited.reshape(*lead, n * c)


def build_predictor(cfg, emb_dim: int, r_dim: int, token_shape: tuple[int, int] | None = None) -> nn.Module:
    """Predictor named by ``cfg.kind`` (a PredictorConfig); ``tokens`` needs the encoder's token_shape."""
    if cfg.kind == "additive":
        return AdditivePredictor(emb_dim, r_dim)
    if cfg.kind == "mlp":
        return MLPPredictor(emb_dim, r_dim, cfg.hidden)
    if cfg.kind == "modular":
        return ModularPredictor(emb_dim, r_dim, cfg.rank, cfg.squash, cfg.tied_bias)
    if cfg.kind == "tokens":
        if token_shape is None:
            raise ValueError("model.predictor.kind 'tokens' needs a token embedding: set model.encoder.kind=cnn "
                             "and model.encoder.token_dim > 0")
        return TokenPredictor(token_shape, r_dim, cfg.depth, cfg.heads)
    raise ValueError(f"model.predictor.kind {cfg.kind!r}; expected additive, mlp, modular or tokens")
