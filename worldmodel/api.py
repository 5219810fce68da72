"""The Python API: a trained world model as one object.

    import worldmodel
    wm = worldmodel.load("runs/numerical-adassl_v/seed0")     # a finished run (train.py)
    e = wm.embed(x)                                         # (B, D)
    r_mean, r_draw = wm.infer_r(x, x_next)                  # (B, R) each
    futures = wm.sample_futures(x, n=8, horizon=5)          # (N, B, H+1, D)
    decoded = wm.decode_probes(futures)                     # {probe name: (N, B, H+1, T)}
    frames = wm.decode_pixels(futures, context=x)           # (N, B, H+1, C, H, W), frame runs with decode.py's decoder
    wm.save_pretrained("export/adassl_v")                   # config.json + model.safetensors (+ probes/, decoder/)
    wm = worldmodel.from_pretrained("export/adassl_v")

Inputs are what the run's dataset yields — vectors (B, d) for numerical runs, clips
(B, k, C, H, W) for frame runs — or clips channels-last (B, k, H, W, C); uint8 frames are scaled
to [0, 1], float frames are taken as already in [0, 1]; numpy arrays are accepted. Everything
runs without gradient on the model's device (CPU after loading; :meth:`PretrainedWorldModel.to`).

A saved model is a folder that works offline: ``config.json`` (``config``: the resolved run
config, ``in_shape``: the input shape, ``format``), ``model.safetensors`` (the weights; no pickled
code) and, when the run has them, ``probes/`` (the regression probes ``eval.py`` fitted) and
``decoder/`` (the pixel decoder ``decode.py`` fitted).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from worldmodel.config import Config, config_from_dict, config_to_dict
from worldmodel.models import WorldModel
from worldmodel.train.runs import load_run

FORMAT = "worldmodel-pretrained-1"
CONFIG_FILE, WEIGHTS_FILE, PROBES_DIR, DECODER_DIR = "config.json", "model.safetensors", "probes", "decoder"


@dataclasses.dataclass
class PretrainedWorldModel:
    """A trained :class:`~worldmodel.models.WorldModel` (eval mode) with its config.

    ``config`` the resolved run config; ``model`` the world model; ``in_shape`` the shape of one
    input (numerical: (d,); frames: (k, C, H, W)); ``folder`` the run or saved folder it came from
    (its ``probes/`` decode embeddings).
    """

    config: Config
    model: WorldModel
    in_shape: tuple[int, ...]
    folder: Path | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> "PretrainedWorldModel":
        """Move the model to ``device`` (in place); returns self."""
        self.model.to(device)
        return self

    def _inputs(self, x, name: str) -> Tensor:
        """(B, *in_shape) on the model's device; channels-last clips (B, k, H, W, C) are moved to (B, k, C, H, W)."""
        x = torch.as_tensor(np.asarray(x)) if not isinstance(x, Tensor) else x
        shape = tuple(x.shape[1:])
        if shape != self.in_shape:
            channels_last = (*self.in_shape[:-3], *self.in_shape[-2:], self.in_shape[-3]) if len(self.in_shape) >= 3 else None
            if shape != channels_last:
                expected = f"(B, {', '.join(map(str, self.in_shape))})"
                if channels_last:
                    expected += f" or channels-last (B, {', '.join(map(str, channels_last))})"
                raise ValueError(f"{name}: shape {tuple(x.shape)}; this model expects {expected}")
            x = x.movedim(-1, -3)
        return x.to(self.device)

    def pairs(self, split: str = "test", count: int = 8) -> dict[str, Tensor]:
        """The first ``count`` pairs of a split of the run's dataset (``config.data``), as the dataset
        yields them: ``context``, ``target`` (B, *in_shape), ground truth ``gt_<name>``, ``action`` …"""
        from worldmodel.data import build_dataset

        dataset = build_dataset(self.config.data, split)
        return dataset.__getitems__(list(range(min(count, len(dataset)))))

    @torch.no_grad()
    def embed(self, x, batch_size: int = 256) -> Tensor:
        """Embeddings f(x): inputs (B, *in_shape) → (B, D) float32, in batches of ``batch_size``."""
        x = self._inputs(x, "x")
        return torch.cat([self.model.encode(chunk).float() for chunk in x.split(batch_size)])

    @torch.no_grad()
    def infer_r(self, context, target, action=None, seed: int | None = None) -> tuple[Tensor, Tensor]:
        """r for each pair (context, target): the posterior mean (B, R) and one draw r ~ q (B, R).

        ``action`` (B, A) is needed by an oracle latent only. The draw uses ``seed`` (the global
        torch RNG is left as it was) or, without one, the global RNG. R = 0 for a run without latent.
        """
        fx, fx_pos = self.embed(context), self.embed(target)
        action = None if action is None else torch.as_tensor(np.asarray(action), dtype=torch.float32).to(self.device)
        mean = self.model.latent.posterior_mean(fx, fx_pos, action)
        with _seeded(seed, self.device):
            draw = self.model.latent.infer(fx, fx_pos, action).r
        return mean.float(), draw.float()

    @torch.no_grad()
    def sample_futures(self, context, n: int, horizon: int, seed: int | None = None) -> Tensor:
        """n futures of each context, r drawn from the prior p(r | e) at every step:
        (B, *in_shape) → (n, B, horizon+1, D) embeddings, index 0 the context's own."""
        from worldmodel.rollout.futures import sample_futures

        if n < 1 or horizon < 0:
            raise ValueError(f"sample_futures: n={n}, horizon={horizon}; expected n ≥ 1 and horizon ≥ 0")
        start = self.embed(context)
        with _seeded(seed, self.device):
            return sample_futures(self.model, start, horizon, n).float()

    def decode_probes(self, embeddings) -> dict[str, np.ndarray]:
        """Embeddings (..., D) read by the regression probes that ``eval.py`` fitted on f(x):
        ``{probe name: (..., T)}`` float64 (e.g. ``gt_z`` for numerical runs, ``gt_position`` for frames)."""
        from worldmodel.eval.probes import load_probes

        if self.folder is None:
            raise FileNotFoundError("decode_probes: this model has no folder with probes; load it from a run or a saved folder")
        features = torch.as_tensor(np.asarray(embeddings) if not isinstance(embeddings, Tensor) else embeddings)
        features = features.detach().double().cpu().numpy()
        probes = load_probes(self.folder / PROBES_DIR)
        return {name: probe.predict(features) for name, probe in probes.items() if probe.info.get("input") == "embedding"}

    @torch.no_grad()
    def decode_pixels(self, futures, context=None) -> Tensor:
        """Rolled-out embeddings (..., H+1, D) (as :meth:`sample_futures` returns them, step 0 the context's
        own) → frames (..., H+1, C, H, W) float in [0, 1], through the pixel decoder that ``decode.py``
        fitted on this model (a run's ``decoder/``, or the copy in a saved folder).

        A decoder that reads the previous frame (``decode.py``'s default) starts from the last frame of the
        ``context`` clips (B, *in_shape) the futures were sampled from, and each step's frame reads the one
        before; a decoder without it (``--no-context-frame``) decodes any (..., D) embeddings alone."""
        decoder = self._decoder().to(self.device)
        futures = torch.as_tensor(np.asarray(futures)) if not isinstance(futures, Tensor) else futures
        futures = futures.to(self.device)
        if not decoder.reads_context:
            return decoder.decode(futures)
        if context is None:
            raise ValueError("decode_pixels: this decoder reads the previous frame; pass context= (the clips the futures start from)")
        from worldmodel.models.vit import as_clips

        return decoder.decode_future(futures, as_clips(self._inputs(context, "context"))[:, -1])

    def _decoder(self):
        """The fitted decoder: a run's is checked against the model now in the run (provenance)."""
        from worldmodel.decode.store import DecoderError, decoder_dir, has_decoder, load_decoder, read_decoder

        if self.folder is None or not has_decoder(self.folder):
            raise DecoderError(f"{self.folder}: no fitted pixel decoder; run `python decode.py --run RUN` on the run "
                               "(and save_pretrained again)")
        if (self.folder / "run.json").is_file():
            return load_decoder(self.folder)
        return read_decoder(decoder_dir(self.folder))

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write config.json, model.safetensors and (when there are) probes/ to ``folder``; returns it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tree = {"format": FORMAT, "in_shape": list(self.in_shape), "config": config_to_dict(self.config)}
        (folder / CONFIG_FILE).write_text(json.dumps(tree, indent=2) + "\n")
        weights = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(weights, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
        probes = None if self.folder is None else self.folder / PROBES_DIR
        if probes is not None and probes.is_dir() and probes.resolve() != (folder / PROBES_DIR).resolve():
            shutil.copytree(probes, folder / PROBES_DIR, dirs_exist_ok=True)
        if self.folder is not None and (self.folder / DECODER_DIR).is_dir() and self.folder.resolve() != folder.resolve():
            self._decoder()  # a decoder fitted on another model of the run is refused, not copied
            shutil.copytree(self.folder / DECODER_DIR, folder / DECODER_DIR, dirs_exist_ok=True)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "PretrainedWorldModel":
        """The model saved by :meth:`save_pretrained` in the local ``folder`` (nothing is downloaded)."""
        folder = Path(folder)
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(f"{folder}: not a saved world model (missing {name}); "
                                        "write one with save_pretrained, or load a run folder with worldmodel.load")
        tree = json.loads((folder / CONFIG_FILE).read_text())
        if not isinstance(tree, dict) or tree.get("format") != FORMAT:
            raise ValueError(f"{folder / CONFIG_FILE}: format {tree.get('format') if isinstance(tree, dict) else None!r}; "
                             f"expected {FORMAT!r}")
        cfg = config_from_dict(tree["config"], str(folder / CONFIG_FILE))
        in_shape = tuple(tree["in_shape"])
        model = WorldModel.to_load(cfg, in_shape)
        model.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
        return cls(cfg, model.eval(), in_shape, folder)


def load(run_dir: str | Path) -> PretrainedWorldModel:
    """The finished run in ``run_dir`` (written by ``train.py``; evaluated by ``eval.py`` for probes)."""
    run_dir = Path(run_dir)
    cfg, model = load_run(run_dir)
    in_shape = tuple(json.loads((run_dir / "run.json").read_text())["in_shape"])
    return PretrainedWorldModel(cfg, model, in_shape, run_dir)


def from_pretrained(folder: str | Path) -> PretrainedWorldModel:
    """The model saved with :meth:`PretrainedWorldModel.save_pretrained` in the local ``folder``."""
    return PretrainedWorldModel.from_pretrained(folder)


@contextlib.contextmanager
def _seeded(seed: int | None, device: torch.device):
    """The torch RNG of ``device`` seeded with ``seed`` inside the block and restored after (no-op for None)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield
