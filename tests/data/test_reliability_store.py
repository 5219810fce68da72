"""Bad dataset folders: each fault gives one line naming the file and what was expected;
property-based tests of the manifest reader."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from framestores import make_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from data_prep.image_pairs import prepare_image_pairs
from worldmodel.data.frames import FramePairs
from worldmodel.data.store import MANIFEST_COLUMNS, DatasetFolderError, FrameStore, read_manifest, save_array, write_manifest

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
HEADER = ",".join(MANIFEST_COLUMNS)


def replace_manifest(folder, text):
    (folder / "manifest.csv").write_text(text)


FAULTS = [
    ("no manifest", lambda f: (f / "manifest.csv").unlink(), r"missing manifest.csv"),
    ("no meta.json", lambda f: (f / "meta.json").unlink(), r"not a dataset folder \(no meta.json\)"),
    ("meta.json not JSON", lambda f: (f / "meta.json").write_text("{"), r"meta.json: malformed JSON"),
    ("a column missing", lambda f: replace_manifest(f, "id,frames\nv0,3\n"), r"manifest.csv: missing columns \['path', 'fps'"),
    ("frames not a number", lambda f: replace_manifest(f, f"{HEADER}\nv0,p,three,10,4,4,ok\n"),
     r"manifest.csv, line 2: frames 'three', expected a whole number ≥ 0"),
    ("negative height", lambda f: replace_manifest(f, f"{HEADER}\nv0,p,3,10,-4,4,ok\n"),
     r"manifest.csv, line 2: height '-4', expected a whole number ≥ 0"),
    ("fps not finite", lambda f: replace_manifest(f, f"{HEADER}\nv0,p,3,inf,4,4,ok\n"),
     r"manifest.csv, line 2: fps 'inf', expected a finite number ≥ 0"),
    ("a short row", lambda f: replace_manifest(f, f"{HEADER}\nv0,p,3\n"), r"manifest.csv, line 2: 3 fields, expected 7"),
    ("a long row", lambda f: replace_manifest(f, f"{HEADER}\nv0,p,3,10,4,4,ok,x\n"), r"manifest.csv, line 2: 8 fields, expected 7"),
    ("an unknown status", lambda f: replace_manifest(f, f"{HEADER}\nv0,p,3,10,4,4,fine\n"),
     r"manifest.csv, line 2: status 'fine', expected 'ok' or 'failed: <reason>'"),
    ("not UTF-8", lambda f: (f / "manifest.csv").write_bytes(HEADER.encode() + b"\n\xff,p,3,10,4,4,ok\n"),
     r"manifest.csv: not a UTF-8 CSV file"),
    ("frames shorter than the manifest says",
     lambda f: (write_manifest(f, [{"id": "v0", "path": "", "frames": 9, "fps": 10, "height": 4, "width": 4, "status": "ok"}]),
                save_array(f, "offsets", np.array([0, 9]))),
     r"frames.npy: holds 7 frames, manifest.csv says 9"),
    ("frames.npy truncated", lambda f: (f / "frames.npy").write_bytes((f / "frames.npy").read_bytes()[:-5]),
     r"frames.npy: \d+ bytes, header promises \d+ \(truncated\?\)"),
    ("ground truth of another length", lambda f: save_array(f, "gt_index", np.zeros(5, np.float32)),
     r"gt_index.npy: 5 rows, expected one per frame \(7\)"),
    ("a pickled array", lambda f: np.save(f / "gt_index.npy", np.array([{}] * 7, dtype=object), allow_pickle=True),
     r"gt_index.npy: not a plain numeric .npy array"),
]


@pytest.mark.parametrize("damage, message", [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_each_damaged_folder_fails_with_one_line_naming_the_file(tmp_path, damage, message):
    folder = make_store(tmp_path / "store", [7])
    damage(folder)
    with pytest.raises(DatasetFolderError) as err:
        FrameStore(folder)
    assert "\n" not in str(err.value) and str(folder) in str(err.value)
    assert re.search(message, str(err.value)), str(err.value)


def test_a_clip_longer_than_every_video_names_the_lengths(tmp_path):
    folder = make_store(tmp_path / "store", [3, 5])
    with pytest.raises(DatasetFolderError, match=r"a pair needs context \+ gap = 8 frames; the longest of the 2 'all' videos has 5"):
        FramePairs(folder, context=4, gap=4, split="all")


def test_a_non_image_file_in_an_image_folder_is_reported_and_its_pairs_counted(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (8, 8), "red").save(src / "a.png")
    Image.new("RGB", (8, 8), "blue").save(src / "b.png")
    (src / "notes.txt").write_text("not an image")
    (tmp_path / "pairs.csv").write_text("context,target\na.png,b.png\nb.png,notes.txt\n")
    counts = prepare_image_pairs(src, tmp_path / "out", tmp_path / "pairs.csv", size=8)
    assert counts["pairs"] == 1 and counts["dropped_pairs"] == 1
    [(name, reason)] = counts["failures"]
    assert name == "notes.txt" and reason.startswith("unreadable image (cannot identify image file") and "\n" not in reason

    (tmp_path / "only_text.csv").write_text("context,target\nnotes.txt,notes.txt\n")
    with pytest.raises(DatasetFolderError, match=r"only_text.csv: no pair has two readable images under"):
        prepare_image_pairs(src, tmp_path / "out2", tmp_path / "only_text.csv", size=8)


# ---------------------------------------------------------------- properties of the manifest reader

rows = st.fixed_dictionaries({
    "id": st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    "path": st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    "frames": st.integers(0, 10**9), "height": st.integers(0, 10**5), "width": st.integers(0, 10**5),
    "fps": st.floats(0, 1e6, allow_nan=False),
    "status": st.just("ok") | st.text(max_size=10).map(lambda reason: f"failed: {reason}"),
})


@PROPERTY
@given(st.lists(rows, max_size=5))
def test_written_manifests_read_back_identically(tmp_path, written):
    write_manifest(tmp_path, written)
    assert read_manifest(tmp_path) == written


@PROPERTY
@given(st.binary(max_size=120) | st.text(max_size=120).map(lambda t: f"{HEADER}\n{t}".encode("utf-8", "surrogatepass")))
def test_any_manifest_file_reads_or_fails_with_one_line(tmp_path, raw):
    (tmp_path / "manifest.csv").write_bytes(raw)
    try:
        manifest = read_manifest(tmp_path)
    except DatasetFolderError as err:
        assert "\n" not in str(err) and "manifest.csv" in str(err)
    else:
        for row in manifest:
            assert min(row["frames"], row["height"], row["width"]) >= 0 and math.isfinite(row["fps"])
            assert row["status"] == "ok" or row["status"].startswith("failed")
