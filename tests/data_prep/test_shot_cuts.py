"""Shot cuts: a real mp4 with a hard cut is stored as two videos split at the cut; a pan is not cut."""

import numpy as np
import pytest
import skimage.data

from data_prep.decoding import ShotCuts, decode_video
from data_prep.render import write_mp4
from data_prep.videos import prepare_videos
from worldmodel.data.store import FrameStore, read_manifest

from videofiles import moving_pattern


def pan(image: np.ndarray, frames: int, height: int, width: int, step: int = 3) -> np.ndarray:
    """(T, H, W, 3): a window sliding ``step`` pixels right per frame over a photograph."""
    return np.stack([image[40 : 40 + height, 20 + step * t : 20 + step * t + width] for t in range(frames)])


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """cut.mp4: 20 frames of a pan over one photograph, then 15 of another (30 fps, 48×80);
    pan.mp4: 30 frames of a pan, no cut."""
    src = tmp_path_factory.mktemp("src")
    first, second = pan(skimage.data.astronaut(), 20, 48, 80), pan(skimage.data.chelsea(), 15, 48, 80)
    write_mp4(src / "cut.mp4", np.concatenate([first, second]), 30)
    write_mp4(src / "pan.mp4", pan(skimage.data.astronaut(), 30, 48, 80), 30)
    return src


def test_a_hard_cut_splits_the_video_and_the_manifest_describes_the_source(videos, tmp_path):
    summary = prepare_videos(videos, tmp_path / "out", size=32, fps=0)
    assert summary.ok == 2 and summary.cuts == 1 and summary.frames == 65
    assert "1 shot cuts" in summary.line(tmp_path / "out")
    rows = {row["id"]: row for row in read_manifest(tmp_path / "out")}
    assert list(rows) == ["cut.mp4#0", "cut.mp4#1", "pan.mp4"]
    assert [rows[i]["frames"] for i in rows] == [20, 15, 30]
    assert [(rows[i]["source"], rows[i]["shot"]) for i in rows] == [("cut.mp4", "0"), ("cut.mp4", "1"), ("pan.mp4", "0")]
    for row in rows.values():
        assert (float(row["source_fps"]), int(row["source_height"]), int(row["source_width"])) == (30.0, 48, 80)
        assert float(row["cropped"]) == pytest.approx(1 - 48 / 80)

    store = FrameStore(tmp_path / "out")
    whole = np.concatenate(list(decode_video(videos / "cut.mp4", 32, 0)))
    assert np.array_equal(store.video_frames(0), whole[:20]) and np.array_equal(store.video_frames(1), whole[20:])

    again = prepare_videos(videos, tmp_path / "out", size=32, fps=0)  # a finished store is reused as it is
    assert (again.reused, again.cuts, again.frames) == (2, 1, 65)
    assert [row["id"] for row in read_manifest(tmp_path / "out")] == list(rows)


def test_the_cut_lands_on_the_first_resampled_frame_of_the_new_shot(videos, tmp_path):
    prepare_videos(videos, tmp_path / "out", size=32, fps=10)
    rows = [row for row in read_manifest(tmp_path / "out") if row["source"] == "cut.mp4"]
    # source frame 20 (t = 0.667 s) starts shot 2; output frame 7 (t = 0.7 s) is the first to show it
    assert [row["frames"] for row in rows] == [7, 5]


def test_threshold_zero_keeps_videos_whole(videos, tmp_path):
    summary = prepare_videos(videos, tmp_path / "out", size=32, fps=0, cut_threshold=0)
    assert summary.cuts == 0
    assert [row["id"] for row in read_manifest(tmp_path / "out")] == ["cut.mp4", "pan.mp4"]


def test_cuts_are_found_across_chunk_boundaries_and_repeats_are_no_cuts():
    a, b = moving_pattern(16, 32, 32, seed=0), 255 - moving_pattern(10, 32, 32, seed=0)
    cuts = ShotCuts(0.5)
    for chunk in (a[:10], a[10:], np.repeat(b[:1], 3, axis=0), b[1:]):
        cuts.update(chunk)
    assert cuts.cuts == [16]
    nothing = ShotCuts(0.0)
    nothing.update(np.concatenate([a, b]))
    assert nothing.cuts == []
