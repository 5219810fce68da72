"""A fitted decoder in its run folder: ``RUN/decoder/decoder.safetensors`` (weights and input
standardisation; metadata ``model_sha256``) and ``RUN/decoder/config.json`` (``decoder``:
:class:`DecoderConfig`, ``fit``: how it was fitted, ``model_sha256`` of the world model it decodes); the
run folder's provenance record says which model the decoder came from, and loading checks it."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from safetensors.torch import load_file, save_file

from worldmodel.decode.model import DecoderConfig, FrameDecoder
from worldmodel.train.runs import check_derived

WEIGHTS, CONFIG = "decoder.safetensors", "config.json"


class DecoderError(ValueError):
    """A run the decoder cannot serve, or a decoder folder that does not fit its run (one-line message)."""


def decoder_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "decoder"


def has_decoder(run_dir: str | Path) -> bool:
    """Whether the run folder holds a fitted decoder."""
    folder = decoder_dir(run_dir)
    return (folder / WEIGHTS).is_file() and (folder / CONFIG).is_file()


def save_decoder(folder: Path, decoder: FrameDecoder, info: dict) -> None:
    """Write the weights and ``{"decoder": config} | info`` (atomically: a reader never sees half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {key: str(value) for key, value in info.items() if key == "model_sha256"}
    save_file({k: v.contiguous() for k, v in decoder.state_dict().items()}, str(folder / f"{WEIGHTS}.tmp"), metadata)
    os.replace(folder / f"{WEIGHTS}.tmp", folder / WEIGHTS)
    (folder / f"{CONFIG}.tmp").write_text(json.dumps({"decoder": dataclasses.asdict(decoder.cfg)} | info, indent=2) + "\n")
    os.replace(folder / f"{CONFIG}.tmp", folder / CONFIG)


def load_decoder(run_dir: str | Path) -> FrameDecoder:
    """The fitted decoder of a run (eval mode, CPU), refused unless it was fitted on the model now in the run."""
    folder = decoder_dir(run_dir)
    if not has_decoder(run_dir):
        raise DecoderError(f"{run_dir}: no fitted decoder ({folder}/{WEIGHTS}); run `python decode.py --run {run_dir}` first")
    check_derived(run_dir, "decoder", "python decode.py --run RUN --overwrite")
    return read_decoder(folder)


def read_decoder(folder: Path) -> FrameDecoder:
    """The decoder saved in ``folder`` by :func:`save_decoder` (eval mode, CPU)."""
    decoder = FrameDecoder(DecoderConfig(**json.loads((folder / CONFIG).read_text())["decoder"]))
    decoder.load_state_dict(load_file(str(folder / WEIGHTS)))
    return decoder.eval()
