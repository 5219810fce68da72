"""bench/store_to_mp4.py: a frame store written as mp4s and re-read by `data_prep videos` lists the same
videos in the same order, frame for frame, so both folders hold out the same videos."""

import sys
from pathlib import Path

import numpy as np

from data_prep.camera_pan import generate_camera_pan
from data_prep.videos import prepare_videos
from worldmodel.data import build_dataset
from worldmodel.config import load_config
from worldmodel.data.store import FrameStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from store_to_mp4 import store_to_mp4  # noqa: E402


def test_mp4s_reread_line_up_with_the_store_and_split_alike(tmp_path):
    store = generate_camera_pan(tmp_path / "pan", videos=6, frames=8, size=32, fps=5)
    paths = store_to_mp4(store, tmp_path / "mp4")
    assert [p.name for p in paths] == [f"{row['id']}.mp4" for row in FrameStore(store).videos]
    prepare_videos(tmp_path / "mp4", tmp_path / "videos", size=32, fps=0)
    before, after = FrameStore(store), FrameStore(tmp_path / "videos")
    assert [Path(row["id"]).stem for row in after.videos] == [row["id"] for row in before.videos]
    np.testing.assert_array_equal(after.offsets, before.offsets)  # every frame kept (fps 0: the mp4's own rate)
    error = np.abs(after.frames.astype(np.float64) - before.frames).mean()
    assert error < 8, f"H.264 round trip changed frames by {error:.1f} grey levels on average"
    held_out = [build_dataset(load_config(overrides=["data.kind=frames", f"data.path={folder}"]).data, "test").parts()
                for folder in (store, tmp_path / "videos")]
    assert held_out[0] == [Path(name).stem for name in held_out[1]]
