"""Write every video of a frame store as an H.264 mp4, to re-read it as footage through ``data_prep videos``.

    python bench/store_to_mp4.py data/carracing data/carracing_mp4
    python -m data_prep videos data/carracing_mp4 data/carracing_footage --size 64 --fps 0

Video v of the store becomes ``OUT/<id>.mp4`` (its manifest id, e.g. ``00000.mp4``) at the
manifest's frame rate (``--fps`` when the manifest has none), in store order, so that the
prepared folder lists the same videos in the same order and its train/test split (by video, seeded)
holds out the same videos as the store's: ``eval.py --data STORE`` then scores the same held-out
videos against the store's ground truth.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from data_prep.render import write_mp4
from worldmodel.data.store import FrameStore


def store_to_mp4(store_dir: str | Path, out: str | Path, fps: float = 10.0) -> list[Path]:
    """Write each video of the frame store ``store_dir`` to ``out/<id>.mp4``; returns the paths, in store order."""
    store, out = FrameStore(store_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for v, row in enumerate(store.videos):
        path = out / f"{row['id']}.mp4"
        write_mp4(path, store.frames[store.offsets[v]:store.offsets[v + 1]], float(row.get("fps") or 0) or fps)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", help="a frame store (e.g. written by `python -m data_prep sim`)")
    parser.add_argument("out", help="folder for the mp4s (created if missing)")
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate where the manifest records none (default 10)")
    args = parser.parse_args()
    print(f"wrote {len(store_to_mp4(args.store, args.out, args.fps))} mp4s to {args.out}")


if __name__ == "__main__":
    main()
