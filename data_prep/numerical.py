"""Numerical pairs with a heteroscedastic, multimodal conditional (the paper's numerical task).

Generating process (all randomness from ``seed``; the mixing and the mode/noise maps are fixed
per dataset and stored in ``meta.json`` so the process can be inspected):

    z ~ N(0, I_d)                         (train, test);   z ~ N(0, ood_variance · I_d)   (ood)
    modes: the d factors are split into K contiguous blocks S_1 … S_K;
    k ~ Categorical(softmax(mode_sharpness · W_π z))           W_π: (K, d), unit-norm rows
          — which block of factors changes is random and its probabilities depend on z;
    σ(z) = noise_scale · exp(hetero · tanh(w_σᵀ z))             w_σ: (d,), unit norm
          — the size of the change depends on z (heteroscedastic), σ ∈ noise_scale·[e^-h, e^h];
    ε ~ N(0, I) or Laplace with unit variance (``noise``)
    z⁺ = z + 1[S_k] ⊙ σ(z) ε
    x = g(z), x⁺ = g(z⁺),  g = L_m ∘ a ∘ L_{m−1} ∘ … ∘ a ∘ L_1,  a = leaky-ReLU(0.2),
          L_i(h) = W_i h with W_i = Q_i random orthogonal (condition number 1): g is invertible;
          with ``layer_gain`` c, W_i = c·Q_i for i ≥ 2 (after an activation). Each leaky-ReLU
          shrinks the scale of h, so many layers leave x tiny (8 layers: std 0.04); the gain
          √(2 / (1 + 0.2²)) ≈ 1.387 (He's, for leaky-ReLU 0.2) keeps it of order 1
          (8 layers: std 0.5).

Arrays written (float32 unless noted): ``x``, ``x_pos`` (N, d); ``z``, ``z_pos`` (N, d);
``mode`` (N,) int64; ``split`` (N,) uint8 with codes in ``meta.json["splits"]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from worldmodel.cli import at_least
from worldmodel.data.numeric import mode_probabilities, noise_std
from worldmodel.data.store import save_array, write_manifest, write_meta

SPLITS = {"train": 0, "test": 1, "ood": 2}


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _unit_rows(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    w = rng.standard_normal(shape)
    return w / np.linalg.norm(w, axis=-1, keepdims=True)


def mix(z: np.ndarray, weights: list[np.ndarray], slope: float = 0.2) -> np.ndarray:
    """x = g(z): (N, d) → (N, d), leaky-ReLU between orthogonal linear layers."""
    h = z
    for i, w in enumerate(weights):
        h = h @ w.T
        if i < len(weights) - 1:
            h = np.where(h > 0, h, slope * h)
    return h


def mode_blocks(dim: int, modes: int) -> np.ndarray:
    """(K, d) 0/1 masks of the contiguous factor blocks each mode changes."""
    if not 1 <= modes <= dim:
        raise ValueError(f"--modes must be between 1 and --dim ({dim}), got {modes}")
    masks = np.zeros((modes, dim), dtype=np.float32)
    for k, block in enumerate(np.array_split(np.arange(dim), modes)):
        masks[k, block] = 1
    return masks



def generate_numerical(
    out: str | Path,
    dim: int = 6,
    modes: int = 3,
    noise: str = "normal",
    noise_scale: float = 0.3,
    hetero: float = 1.5,
    mode_sharpness: float = 2.0,
    mixing_layers: int = 3,
    layer_gain: float = 1.0,
    n_train: int = 50000,
    n_test: int = 10000,
    n_ood: int = 10000,
    ood_variance: float = 5.0,
    seed: int = 0,
) -> Path:
    """Write a numerical pair dataset folder to ``out`` (see the module docstring)."""
    options: dict[str, Any] = dict(locals())
    options.pop("out")
    for name in ("dim", "n_train", "n_test", "n_ood"):  # checked before the folder is made
        if not (isinstance(options[name], int) and options[name] >= 1):
            raise ValueError(f"--{name.replace('_', '-')} is {options[name]!r}; expected a whole number ≥ 1")
    if noise not in ("normal", "laplace"):
        raise ValueError(f"--noise {noise!r}; expected 'normal' or 'laplace'")
    if mixing_layers < 1:
        raise ValueError(f"--mixing-layers must be ≥ 1, got {mixing_layers}")
    rng = np.random.default_rng(seed)
    if layer_gain <= 0:
        raise ValueError(f"--layer-gain must be > 0, got {layer_gain}")
    weights = [_orthogonal(rng, dim) * (layer_gain if i else 1.0) for i in range(mixing_layers)]
    w_pi = _unit_rows(rng, (modes, dim))
    w_sigma = _unit_rows(rng, (dim,))
    blocks = mode_blocks(dim, modes)

    sizes = {"train": n_train, "test": n_test, "ood": n_ood}
    std = {"train": 1.0, "test": 1.0, "ood": float(np.sqrt(ood_variance))}
    z = np.concatenate([std[s] * rng.standard_normal((sizes[s], dim)) for s in SPLITS])
    split = np.concatenate([np.full(sizes[s], SPLITS[s], dtype=np.uint8) for s in SPLITS])

    probs = mode_probabilities(z, w_pi, mode_sharpness)
    mode = (rng.random((len(z), 1)) > probs.cumsum(axis=1)).sum(axis=1)
    if noise == "normal":
        eps = rng.standard_normal(z.shape)
    else:
        eps = rng.laplace(scale=1 / np.sqrt(2), size=z.shape)
    z_pos = z + blocks[mode] * noise_std(z, w_sigma, noise_scale, hetero) * eps

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"x": mix(z, weights), "x_pos": mix(z_pos, weights), "z": z, "z_pos": z_pos}
    for name, array in arrays.items():
        save_array(out, name, array.astype(np.float32))
    save_array(out, "mode", mode.astype(np.int64))
    save_array(out, "split", split)
    write_manifest(
        out,
        [dict(id=s, path="generated:numerical", frames=sizes[s], fps=0, height=1, width=dim, status="ok") for s in SPLITS],
    )
    write_meta(
        out,
        kind="numerical",
        writer="data_prep numerical",
        options=options,
        splits=SPLITS,
        process={
            "mixing_weights": [w.tolist() for w in weights],
            "mode_weights": w_pi.tolist(),
            "noise_direction": w_sigma.tolist(),
            "mode_blocks": blocks.tolist(),
        },
    )
    return out


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("numerical", help="heteroscedastic, multimodal numerical pairs", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", help="dataset folder to write")
    p.add_argument("--dim", type=at_least(1), default=6, help="latent and observation dimension d")
    p.add_argument("--modes", type=at_least(1), default=3, help="number of factor blocks K that may change")
    p.add_argument("--noise", default="normal", choices=("normal", "laplace"), help="noise law of the change")
    p.add_argument("--noise-scale", type=float, default=0.3, help="base noise scale")
    p.add_argument("--hetero", type=float, default=1.5, help="heteroscedasticity h: σ varies by e^±h")
    p.add_argument("--mode-sharpness", type=float, default=2.0, help="how strongly z sets the mode probabilities")
    p.add_argument("--mixing-layers", type=at_least(1), default=3, help="layers of the invertible mixing g")
    p.add_argument("--layer-gain", type=float, default=1.0,
                   help="scale of every mixing layer after the first (1.387 keeps the scale of x for deep mixing)")
    p.add_argument("--n-train", type=at_least(1), default=50000)
    p.add_argument("--n-test", type=at_least(1), default=10000)
    p.add_argument("--n-ood", type=at_least(1), default=10000)
    p.add_argument("--ood-variance", type=float, default=5.0, help="variance of z on the ood split")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    options = {k: v for k, v in vars(args).items() if k not in ("func", "command", "debug")}
    out = generate_numerical(**options)
    print(f"wrote numerical dataset to {out}")
