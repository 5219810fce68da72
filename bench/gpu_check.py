"""One-go GPU check: the CUDA-marked tests, then training throughput of the CNN and the ViT footage
encoders per precision and torch.compile setting, with the data wait and the peak memory.

    python bench/gpu_check.py                          # on a GPU: tests, then fp32 / bf16 / fp16 x compile off / on
    python bench/gpu_check.py --steps 8 --warmup 3     # on CPU: reports "no CUDA", measures fp32 vs bf16

Runs anywhere: without CUDA it says so, skips the CUDA tests and fp16, leaves torch.compile off
(``--compile`` forces it) and still measures fp32 vs bf16 clips/s of ViT-tiny vs the CNN.

Each row trains ``configs/video_folder.yaml`` (the CNN) or the same config with the ViT-tiny encoder
(patch 8, its patch tokens mean-pooled) on a generated camera-pan store (64 px frames) for
``--steps`` steps with the real pieces of ``train.py``: the pair dataset through a DataLoader, the
world model under Accelerate's autocast (and its gradient scaler for fp16), AdamW. Rates exclude
the first ``--warmup`` steps (and so the compilation). clips/s = (context, target) pairs per second
of step time; data wait = time waiting for the loader / step time; peak memory =
``torch.cuda.max_memory_allocated`` of that row (CUDA only).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from torch.utils.data import DataLoader

from data_prep.camera_pan import generate_camera_pan
from worldmodel.config import load_config
from worldmodel.data import build_dataset, passthrough_collate
from worldmodel.models import WorldModel
from worldmodel.train.loop import StepBatchSampler

ROOT = Path(__file__).resolve().parents[1]

ENCODERS = {
    "cnn": [],
    "vit-tiny": ["model.encoder.kind=vit", "model.encoder.size=tiny", "model.encoder.patch=8"],
}


def run_cuda_tests() -> str:
    """``pytest -m cuda`` in a subprocess: its summary line."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return lines[-1] if lines else f"pytest exited with {done.returncode}: {done.stderr.strip()[-200:]}"


def throughput(data: Path, encoder: str, precision: str, compiled: bool, args: argparse.Namespace) -> dict:
    """clips/s, data wait share and peak memory (MiB as text, "-" without CUDA) of ``args.steps`` training steps."""
    cfg = load_config(ROOT / "configs/video_folder.yaml", [
        f"data.path={data}", "data.generator=null", f"train.batch_size={args.batch_size}", f"train.steps={args.steps}",
        f"data.num_workers={args.workers}", *ENCODERS[encoder]])
    accelerator = Accelerator(mixed_precision=precision, cpu=args.cpu)
    dataset = build_dataset(cfg.data, "train")
    torch.manual_seed(0)
    model = WorldModel(cfg, tuple(dataset[0]["context"].shape))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr)
    model, optimizer = accelerator.prepare(model, optimizer)
    step_fn = torch.compile(model) if compiled else model
    sampler = StepBatchSampler(len(dataset), cfg.train.batch_size, cfg.train.steps, seed=0)
    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=passthrough_collate, num_workers=cfg.data.num_workers)
    cuda = accelerator.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    data_time = step_time = 0.0
    tick = time.perf_counter()
    for step, batch in enumerate(loader):
        batch = {k: v.to(accelerator.device, non_blocking=True) for k, v in batch.items()}
        sync()
        loaded = time.perf_counter()
        with accelerator.autocast():
            loss = step_fn(batch, cfg.model.latent.beta)["loss"]
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        optimizer.step()
        sync()
        now = time.perf_counter()
        if step >= args.warmup:
            data_time += loaded - tick
            step_time += now - tick
        tick = now
    AcceleratorState._reset_state(reset_partial_state=True)  # the next row may use another precision
    timed = args.steps - args.warmup
    return {"clips_per_s": timed * args.batch_size / step_time, "data_wait": data_time / step_time,
            "peak_mib": f"{torch.cuda.max_memory_allocated() / 2**20:.0f}" if cuda else "-"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="steps per row (default 40 on CUDA, 8 on CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="first steps left out (default 10 on CUDA, 3 on CPU)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 128 on CUDA, 32 on CPU")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default 4 on CUDA, 0 on CPU)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--compile", action="store_true", help="on CPU too: also measure torch.compile")
    parser.add_argument("--no-tests", action="store_true", help="skip the CUDA-marked tests")
    parser.add_argument("--cpu", action="store_true", help="ignore the GPU")
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and not args.cpu
    defaults = (40, 10, 128, 4) if cuda else (8, 3, 32, 0)
    for name, default in zip(("steps", "warmup", "batch_size", "workers"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.warmup >= args.steps:
        parser.error("--warmup must be smaller than --steps")
    torch.set_num_threads(args.threads)
    device = torch.cuda.get_device_name() if cuda else "no CUDA"
    print(f"device: {device}; torch {torch.__version__}; {args.threads} CPU threads")
    if cuda and not args.no_tests:
        print(f"CUDA-marked tests: {run_cuda_tests()}")
    elif not cuda:
        print("CUDA-marked tests: skipped (no CUDA)")
    precisions = ["no", "bf16", "fp16"] if cuda else ["no", "bf16"]
    compiles = [False, True] if cuda or args.compile else [False]
    print(f"\n{'encoder':<10} {'precision':<10} {'compile':<8} {'clips/s':>9} {'data wait':>10} {'peak MiB':>9}"
          f"   ({args.batch_size} clips per step, {args.steps - args.warmup} timed steps)")
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_camera_pan(Path(tmp) / "pan", videos=24, frames=32, size=64)
        for compiled in compiles:  # every eager row first: a compile that runs long loses only compiled rows
            for encoder in ENCODERS:
                for precision in precisions:
                    row = throughput(data, encoder, precision, compiled, args)
                    print(f"{encoder:<10} {'fp32' if precision == 'no' else precision:<10} {'on' if compiled else 'off':<8} "
                          f"{row['clips_per_s']:>9.1f} {row['data_wait']:>10.1%} {row['peak_mib']:>9}", flush=True)


if __name__ == "__main__":
    main()
