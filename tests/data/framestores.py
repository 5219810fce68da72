"""Small frame stores written directly with the store API, for the loader tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worldmodel.data.store import FRAMES_KIND, save_array, write_frames, write_manifest, write_meta


def make_store(folder: Path, lengths: list[int], size: int = 4, sources: list[str] | None = None) -> Path:
    """A store whose frame n (global index) is filled with n % 251 and has ground truth
    ``index`` = n and ``step`` = 1 + n % 3, the array the action sums; video v has id ``v<v>`` and, with
    ``sources``, the manifest's ``source`` column (shots cut from one video)."""
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(lengths)
    frames = (np.arange(total) % 251).astype(np.uint8)[:, None, None, None] * np.ones((1, size, size, 1), np.uint8)
    offsets = np.cumsum([0, *lengths])
    write_frames(folder, (frames[a:b] for a, b in zip(offsets[:-1], offsets[1:])), lengths, (size, size, 1))
    save_array(folder, "gt_index", np.arange(total, dtype=np.float32))
    save_array(folder, "gt_step", (1 + np.arange(total) % 3).astype(np.float32)[:, None])
    write_manifest(folder, [{"id": f"v{v}", "path": "generated", "frames": n, "fps": 10, "height": size, "width": size,
                             "status": "ok"} | ({"source": sources[v]} if sources else {}) for v, n in enumerate(lengths)])
    write_meta(folder, FRAMES_KIND, "tests", {}, ground_truth={"index": "frame index", "step": "1 + n % 3"},
               action={"sum_of": "step"})
    return folder
