"""The frame store: validation errors name the file and what was expected; bounded RSS."""

from __future__ import annotations

import numpy as np
import pytest
from framestores import make_store

from worldmodel.data.store import DatasetFolderError, FrameStore, open_array, save_array, write_manifest


def test_store_round_trip(tmp_path):
    store = FrameStore(make_store(tmp_path, [3, 4]))
    assert store.frames.shape == (7, 4, 4, 1) and store.offsets.tolist() == [0, 3, 7]
    assert [row["id"] for row in store.videos] == ["v0", "v1"]
    np.testing.assert_array_equal(store.gather(np.array([[6, 0]]))[..., 0, 0, 0], [[6, 0]])


def test_missing_manifest(tmp_path):
    (make_store(tmp_path, [3]) / "manifest.csv").unlink()
    with pytest.raises(DatasetFolderError, match="missing manifest.csv"):
        FrameStore(tmp_path)


def test_frames_file_shorter_than_its_header(tmp_path):
    path = make_store(tmp_path, [3, 4]) / "frames.npy"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetFolderError, match="frames.npy: .* bytes, header promises .* \\(truncated\\?\\)"):
        FrameStore(tmp_path)


def test_fewer_frames_than_the_manifest_says(tmp_path):
    make_store(tmp_path, [3, 4])
    rows = [{"id": "v0", "path": "", "frames": 3, "fps": 10, "height": 4, "width": 4, "status": "ok"},
            {"id": "v1", "path": "", "frames": 6, "fps": 10, "height": 4, "width": 4, "status": "ok"}]
    save_array(tmp_path, "offsets", np.array([0, 3, 9]))
    write_manifest(tmp_path, rows)
    with pytest.raises(DatasetFolderError, match="frames.npy: holds 7 frames, manifest.csv says 9"):
        FrameStore(tmp_path)


def test_ground_truth_of_the_wrong_length(tmp_path):
    make_store(tmp_path, [3, 4])
    save_array(tmp_path, "gt_index", np.zeros(6, np.float32))
    with pytest.raises(DatasetFolderError, match="gt_index.npy: 6 rows, expected one per frame \\(7\\)"):
        FrameStore(tmp_path)


def test_pickled_arrays_are_refused(tmp_path):
    np.save(tmp_path / "bad.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetFolderError, match="not a plain numeric"):
        open_array(tmp_path, "bad")


def resident_kb(path) -> int:
    """Resident size of this process's mappings of ``path`` (from /proc/self/smaps)."""
    total, inside = 0, False
    for line in open("/proc/self/smaps"):
        if "-" in line.split()[0]:
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def test_gather_reads_runs_of_frames_without_mapping_them(tmp_path):
    store = FrameStore(make_store(tmp_path, [3000], size=64))  # 12 MB of frames
    index = np.array([[5, 6, 7, 100, 2999], [0, 0, 1, 2, 1500]])
    gathered = store.gather(index)
    for start in range(0, 3000, 120):
        store.gather(np.arange(start, start + 120)[None])
    assert resident_kb(tmp_path / "frames.npy") == 0
    np.testing.assert_array_equal(gathered, store.frames[index])
    store.frames[::10].sum()  # reading through the memory map makes its pages resident
    assert resident_kb(tmp_path / "frames.npy") > 1000
    with pytest.raises(IndexError, match="outside 0 … 2999"):
        store.gather(np.array([[3000]]))
