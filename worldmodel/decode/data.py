"""What the decoder is fitted on: frozen embeddings of clips paired with the clips' last frames.

Two kinds of input, both computed once with the frozen model (no gradient reaches it):

- ``f(x)`` of every context and target clip of the split's pairs (each distinct clip once) → the
  clip's last frame, so the decoder reads real embeddings;
- the one-step prediction t(f(x), r̄) with r̄ the posterior mean of r given the pair → the last frame
  of the target clip, so it also reads the predictor's outputs, which rollouts are made of.

For a decoder that reads the previous frame (``context_frame``) the embeddings are those of the pairs'
target clips f(x⁺), each with f(x) and the last frame of x as the previous embedding and frame; the
predictions come with the same.

With ``rollout_steps`` K ≥ 2 there are also rollout chains: K consecutive pairs of one video (each
pair's target clip the next one's context clip), their embeddings rolled forward from f(x₀) as
ê_h = t(ê_{h−1}, r̄_h) with r̄_h the posterior mean of r given (ê_{h−1}, f(x_h)), so that the decoder
can be fitted on step h of a rollout, reading the frame it decoded itself for step h − 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from worldmodel.data.frames import FramePairs
from worldmodel.data.pixels import unit_float


@dataclass
class DecoderData:
    """``inputs`` (M, D) float32 embeddings; ``frame`` (M,) int64 row of ``frames`` each must decode
    to; ``frames`` (F, C, H, W) uint8 the distinct target frames; ``kind`` (M,) 0 embedding, 1 prediction;
    for a context decoder ``previous`` (M, D) the previous frame's embedding and ``context`` (M,) int64
    the row of ``frames`` holding the previous frame, else None; with rollout chains ``chains`` (M', K+1, D)
    rolled-out embeddings (step 0 f(x₀)) and ``chain_frame`` (M', K+1) int64 the rows of ``frames`` each
    step must decode to (step 0 the last frame of x₀), else None."""

    inputs: Tensor
    frame: Tensor
    frames: Tensor
    kind: Tensor
    previous: Tensor | None = None
    context: Tensor | None = None
    chains: Tensor | None = None
    chain_frame: Tensor | None = None

    def decoder_inputs(self, index: Tensor) -> tuple[Tensor, ...]:
        """The decoder's arguments for the samples ``index``: (embeddings,) or (embeddings, previous, frame in [0, 1])."""
        if self.previous is None:
            return (self.inputs[index],)
        return self.inputs[index], self.previous[index], unit_float(self.frames[self.context[index]])

    def __len__(self) -> int:
        return len(self.inputs)


def clip_frames(dataset: FramePairs, first: np.ndarray) -> Tensor:
    """Clips of the dataset's context length starting at global frames ``first`` (S,) → (S, k, C, H, W) uint8."""
    index = np.asarray(first, dtype=np.int64)[:, None] + np.arange(dataset.context)
    return torch.from_numpy(np.ascontiguousarray(dataset.store.gather(index).transpose(0, 1, 4, 2, 3)))


def frames_at(dataset: FramePairs, index: np.ndarray) -> Tensor:
    """Frames at global indices ``index`` (S,) → (S, C, H, W) uint8."""
    frames = dataset.store.gather(np.asarray(index, dtype=np.int64)[:, None])[:, 0]
    return torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))


@torch.no_grad()
def encode_clips(model, dataset: FramePairs, first: np.ndarray, batch_size: int = 256) -> Tensor:
    """f of the clips starting at global frames ``first`` (S,) → (S, D) float32."""
    return torch.cat([model.encode(clip_frames(dataset, first[i : i + batch_size])).float()
                      for i in range(0, len(first), batch_size)])


def pair_chains(dataset: FramePairs, steps: int) -> np.ndarray:
    """(M, steps) int64: every run of ``steps`` pairs in which each pair's target clip is the next pair's
    context clip (so within one video), as pair indices; (0, steps) when there is none."""
    chains = np.arange(len(dataset))[:, None]
    for _ in range(steps - 1):
        after = dataset.first[chains[:, -1]] + dataset.gap
        found = np.minimum(np.searchsorted(dataset.first, after), len(dataset) - 1)
        keep = dataset.first[found] == after
        chains = np.concatenate([chains[keep], found[keep, None]], axis=1)
    return chains


def action_of(dataset: FramePairs, pairs: np.ndarray) -> Tensor | None:
    """(P,) pair indices → their (P, A) actions, or None for a dataset without actions."""
    return dataset.__getitems__(list(pairs)).get("action") if len(pairs) else None


@torch.no_grad()
def rolled_chains(model, dataset: FramePairs, chains: np.ndarray, fx: Tensor, fx_pos: Tensor,
                  batch_size: int = 256) -> Tensor:
    """(M, K) pair chains → (M, K+1, D) embeddings rolled forward from f(x₀) with posterior-mean r's
    (module docstring), given every pair's f(x) ``fx`` and f(x⁺) ``fx_pos`` (P, D)."""
    paths = []
    for i in range(0, len(chains), batch_size):
        block = chains[i : i + batch_size]
        path = [fx[block[:, 0]]]
        for h in range(block.shape[1]):
            r = model.latent.posterior_mean(path[-1], fx_pos[block[:, h]], action_of(dataset, block[:, h]))
            path.append(model.predictor(path[-1], r).float())
        paths.append(torch.stack(path, dim=1))
    return torch.cat(paths) if paths else fx.new_zeros((0, chains.shape[1] + 1, fx.shape[1]))


@torch.no_grad()
def decoder_data(model, dataset: FramePairs, predictions: bool = True, context_frame: bool = False,
                 rollout_steps: int = 0, batch_size: int = 256) -> DecoderData:
    """Embeddings (and, with ``predictions``, posterior-mean one-step predictions; with ``rollout_steps``
    K ≥ 2, chains of K pairs rolled forward) of a split's pairs with their target frames, see the
    module docstring."""
    starts = np.unique(np.concatenate([dataset.first, dataset.first + dataset.gap]))
    embeddings = encode_clips(model, dataset, starts, batch_size)
    frames = frames_at(dataset, starts + dataset.context - 1)  # (S, C, H, W): each clip's last frame
    context_row = torch.from_numpy(np.searchsorted(starts, dataset.first))
    target_row = torch.from_numpy(np.searchsorted(starts, dataset.first + dataset.gap))
    if context_frame:  # f(x⁺) after f(x) and x's last frame
        inputs, frame, previous, context = [embeddings[target_row]], [target_row], [embeddings[context_row]], [context_row]
    else:  # every clip's f alone
        inputs, frame, previous, context = [embeddings], [torch.arange(len(starts))], [], []
    kind = [torch.zeros(len(inputs[0]), dtype=torch.long)]
    if predictions:
        predicted = []
        for i in range(0, len(dataset), batch_size):
            rows = slice(i, i + batch_size)
            fx, fx_pos = embeddings[context_row[rows]], embeddings[target_row[rows]]
            r = model.latent.posterior_mean(fx, fx_pos, action_of(dataset, np.arange(len(dataset))[rows]))
            predicted.append(model.predictor(fx, r).float())
        inputs.append(torch.cat(predicted))
        frame.append(target_row)
        kind.append(torch.ones(len(dataset), dtype=torch.long))
        if context_frame:
            previous.append(embeddings[context_row])
            context.append(context_row)
    extra = (torch.cat(previous), torch.cat(context).long()) if context_frame else (None, None)
    chains, chain_frame = None, None
    if rollout_steps >= 2:
        pairs = pair_chains(dataset, rollout_steps)
        chains = rolled_chains(model, dataset, pairs, embeddings[context_row], embeddings[target_row], batch_size)
        index = torch.from_numpy(pairs)
        chain_frame = torch.cat([context_row[index[:, :1]], target_row[index]], dim=1).long()
    return DecoderData(torch.cat(inputs), torch.cat(frame).long(), frames, torch.cat(kind), *extra, chains, chain_frame)


def future_frames(dataset: FramePairs, first: np.ndarray, horizon: int) -> Tensor:
    """True frames of rollouts from the context clips starting at global frames ``first`` (B,): the last
    context frame and every ``gap`` frames after it → (B, H+1, C, H, W) uint8."""
    index = (np.asarray(first, dtype=np.int64) + dataset.context - 1)[:, None] + dataset.gap * np.arange(horizon + 1)
    return torch.from_numpy(np.ascontiguousarray(dataset.store.gather(index).transpose(0, 1, 4, 2, 3)))


def mean_frame(dataset: FramePairs) -> Tensor:
    """(C, H, W) float in [0, 1]: the mean of the frames the dataset's clips end on."""
    last = np.unique(np.concatenate([dataset.first, dataset.first + dataset.gap])) + dataset.context - 1
    total = sum(frames_at(dataset, last[i : i + 1024]).double().sum(0) for i in range(0, len(last), 1024))
    return (total / (255 * len(last))).float()
