"""``python -m data_prep videos``: resampling, backends, corrupt inputs, workers, resuming."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from videofiles import write_audio_only, write_pattern_video

from data_prep.__main__ import main
from data_prep.decoding import decode_video, resample
from data_prep.resize import fit_frames
from data_prep.videos import prepare_videos
from worldmodel.data.store import DatasetFolderError, FrameStore, read_manifest

REPO = Path(__file__).resolve().parents[2]


def decode_all(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_resample_picks_the_frame_shown_at_each_output_time():
    times = lambda n, fps: [(i / fps, i) for i in range(n)]
    expand = lambda picked: [i for i, repeats in picked for _ in range(repeats)]
    assert expand(resample(times(30, 30), 30, 10)) == list(range(0, 30, 3))
    assert expand(resample(times(25, 25), 25, 10)) == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22]
    assert expand(resample(times(10, 10), 10, 20)) == [i // 2 for i in range(20)]
    assert expand(resample(times(7, 30), 30, 0)) == list(range(7))
    shifted = [(t + 1.7, i) for t, i in times(30, 30)]  # a stream that does not start at 0
    assert expand(resample(shifted, 30, 10)) == list(range(0, 30, 3))


@pytest.mark.parametrize("fps, expected", [(10, 15), (0, 45), (15, 23), (60, 90)])
def test_frame_counts_after_fps_resampling(tmp_path, fps, expected):
    write_pattern_video(tmp_path / "src" / "clip.mp4", frames=45, fps=30)
    summary = prepare_videos(tmp_path / "src", tmp_path / "out", size=32, fps=fps)
    store = FrameStore(tmp_path / "out")
    assert (summary.ok, summary.frames) == (1, expected)
    assert store.frames.shape == (expected, 32, 32, 3)
    assert read_manifest(tmp_path / "out")[0]["frames"] == expected


def test_stored_frames_are_the_resampled_source_frames(tmp_path):
    path = write_pattern_video(tmp_path / "src" / "clip.mp4", frames=45, fps=30)
    prepare_videos(tmp_path / "src", tmp_path / "out", size=32, fps=10)
    expected = fit_frames(decode_all(path)[::3], 32)
    np.testing.assert_array_equal(FrameStore(tmp_path / "out").frames, expected)


def test_pyav_and_decord_give_the_same_frames(tmp_path):
    pytest.importorskip("decord")
    path = write_pattern_video(tmp_path / "clip.mp4", frames=50, fps=25, height=60, width=90)
    by_pyav = np.concatenate(list(decode_video(path, 48, fps=10, backend="pyav")))
    by_decord = np.concatenate(list(decode_video(path, 48, fps=10, backend="decord")))
    assert by_pyav.shape == (20, 48, 48, 3)
    np.testing.assert_array_equal(by_pyav, by_decord)


def test_pad_keeps_the_whole_frame(tmp_path):
    frames = np.full((2, 20, 40, 3), 200, np.uint8)
    padded = fit_frames(frames, 16, pad=True)
    assert padded.shape == (2, 16, 16, 3)
    assert (padded[:, :4] == 0).all() and (padded[:, 12:] == 0).all() and (padded[:, 4:12] == 200).all()


def corrupt_folder(root: Path) -> Path:
    write_pattern_video(root / "good_a.mp4", seed=1)
    write_pattern_video(root / "sub" / "good_b.mov", seed=2)
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("this is text, not a video\n")
    whole = write_pattern_video(root / "whole.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    (root / "whole.mp4").unlink()
    write_audio_only(root / "audio.mp4")
    return root


def test_corrupt_inputs_are_reported_and_do_not_stop_the_others(tmp_path, capsys):
    src = corrupt_folder(tmp_path / "src")
    main(["videos", str(src), str(tmp_path / "out"), "--size", "16"])
    rows = {row["id"]: row for row in read_manifest(tmp_path / "out")}
    assert {vid: row["status"].split(":")[0] for vid, row in rows.items()} == {
        "audio.mp4": "failed", "empty.mp4": "failed", "good_a.mp4": "ok",
        "notes.mp4": "failed", "sub/good_b.mov": "ok", "truncated.mp4": "failed",
    }
    assert rows["empty.mp4"]["status"] == "failed: empty file"
    assert rows["audio.mp4"]["status"] == "failed: no video stream"
    assert rows["good_a.mp4"]["frames"] == 10
    assert "2 videos ok (0 reused from an earlier run), 4 failed, 20 frames" in capsys.readouterr().out
    assert FrameStore(tmp_path / "out").frames.shape == (20, 16, 16, 3)


def test_exit_status_is_an_error_only_when_nothing_succeeded_or_strict(tmp_path):
    src = corrupt_folder(tmp_path / "src")
    with pytest.raises(SystemExit):
        main(["videos", str(src), str(tmp_path / "strict"), "--size", "16", "--strict"])
    for name in ("good_a.mp4", "sub/good_b.mov"):
        (src / name).unlink()
    with pytest.raises(SystemExit):
        main(["videos", str(src), str(tmp_path / "none"), "--size", "16"])


@pytest.fixture
def video_folder(tmp_path) -> Path:
    for i in range(6):
        write_pattern_video(tmp_path / "src" / f"v{i}.mp4", frames=24 + 3 * i, height=64, width=96, seed=i)
    return tmp_path / "src"


def store_bytes(folder: Path) -> tuple[bytes, list]:
    return (folder / "frames.npy").read_bytes(), read_manifest(folder)


def test_output_does_not_depend_on_workers(tmp_path, video_folder):
    prepare_videos(video_folder, tmp_path / "one", size=24, workers=1)
    prepare_videos(video_folder, tmp_path / "two", size=24, workers=2)
    assert store_bytes(tmp_path / "one") == store_bytes(tmp_path / "two")
    assert FrameStore(tmp_path / "one").offsets.tolist() == [0, 8, 17, 27, 38, 50, 63]


def test_killed_then_rerun_gives_the_uninterrupted_result(tmp_path, video_folder):
    prepare_videos(video_folder, tmp_path / "reference", size=24)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "data_prep", "videos", str(video_folder), str(out), "--size", "24"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not list((out / "parts").glob("?" * 16 + ".json")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "meta.json").exists(), "the killed run must not look finished"
    parts = out / "parts"
    (parts / ".0000.u8.tmp-1").write_bytes(b"half a video")  # a video killed while being written
    summary = prepare_videos(video_folder, out, size=24)
    assert summary.ok == 6 and summary.reused >= 1
    assert store_bytes(out) == store_bytes(tmp_path / "reference")
    assert not parts.exists()


def test_rerun_reuses_the_finished_store_and_adds_new_videos(tmp_path, video_folder):
    prepare_videos(video_folder, tmp_path / "out", size=24)
    assert prepare_videos(video_folder, tmp_path / "out", size=24).reused == 6
    write_pattern_video(video_folder / "v6.mp4", frames=30, height=64, width=96, seed=6)
    summary = prepare_videos(video_folder, tmp_path / "out", size=24)
    assert (summary.ok, summary.reused) == (7, 6)
    prepare_videos(video_folder, tmp_path / "fresh", size=24)
    assert store_bytes(tmp_path / "out") == store_bytes(tmp_path / "fresh")
    (video_folder / "v0.mp4").unlink()
    summary = prepare_videos(video_folder, tmp_path / "out", size=24, backend="auto")
    assert (summary.ok, summary.reused, summary.dropped) == (6, 6, 1)
    with pytest.raises(DatasetFolderError, match="--overwrite"):
        prepare_videos(video_folder, tmp_path / "out", size=32)
    assert prepare_videos(video_folder, tmp_path / "out", size=32, overwrite=True).reused == 0

