"""Backbones loaded from a local safetensors file and frozen or fine-tuned (DINO-WM trains on frozen
features): shared by the timm, video ResNet and CNN encoders. Nothing is downloaded."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn


def load_backbone_weights(model: nn.Module, path: str | Path, classifier: str | None = None) -> None:
    """Load a safetensors state dict into a timm, torchvision or CNN model; a bad file raises one line naming it.

    timm's own checkpoint filter for the architecture runs first (it resizes a ViT's position
    embedding to the model's image size, for instance); the weights of the classifier (``classifier``,
    by default the name timm's model config gives it) are ignored, since the encoder replaces it.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model.encoder.weights: {path} is not a file; expected a safetensors state dict")
    try:
        state = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for a file of another format
        raise ValueError(f"model.encoder.weights: {path} is not a readable safetensors file ({err})") from None
    filter_fn = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
    if filter_fn is not None:
        state = filter_fn(state, model)
    classifier = classifier or getattr(model, "pretrained_cfg", {}).get("classifier") or "head"
    own = model.state_dict()
    state = {k: v for k, v in state.items() if k in own or not k.startswith(classifier)}
    wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items() if k in own and v.shape != own[k].shape]
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if wrong or missing or unexpected:
        raise ValueError(f"model.encoder.weights: {path} does not fit {type(model).__name__}: "
                         f"{len(missing)} missing keys {missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}, "
                         f"{len(wrong)} of another shape {wrong[:2]}")
    model.load_state_dict(state)


class FreezableBackbone(nn.Module):
    """An encoder around ``self.backbone`` that ``self.freeze`` can freeze: ``train()`` then leaves the
    backbone in eval mode (BatchNorm statistics and dropout as loaded)."""

    freeze = False

    def set_freeze(self, freeze: bool) -> None:
        """``freeze``: the backbone gets no gradient and stays in eval mode."""
        self.freeze = freeze
        self.backbone.requires_grad_(not freeze).train(not freeze)

    def backbone_grad(self) -> torch.autograd.grad_mode.set_grad_enabled:
        """The context to run the backbone in: no gradient when frozen, else as around it."""
        return torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze)

    def train(self, mode: bool = True) -> "FreezableBackbone":
        super().train(mode)
        if self.freeze:
            self.backbone.eval()
        return self
