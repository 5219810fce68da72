"""``python -m data_prep image-pairs`` and ImagePairs: pixels, splits, ground truth, failures."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from PIL import Image

from data_prep.__main__ import main
from data_prep.resize import fit_frames
from worldmodel.data.images import ImagePairs
from worldmodel.data.store import DatasetFolderError, read_manifest

PHOTOS = {"astronaut": skimage.data.astronaut(), "coffee": skimage.data.coffee(), "chelsea": skimage.data.chelsea()}


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "src"
    (src / "people").mkdir(parents=True)
    for name, image in PHOTOS.items():
        Image.fromarray(image).save(src / "people" / f"{name}.png")
    (src / "broken.jpg").write_text("not an image")
    rows = ["context,target,split,identity,age",
            "people/astronaut.png,people/coffee.png,train,anna,31",
            "people/coffee.png,people/chelsea.png,test,bob,42",
            "people/chelsea.png,people/astronaut.png,ood,anna,7",
            "people/astronaut.png,broken.jpg,train,carl,50",
            "people/missing.png,people/coffee.png,train,dan,60"]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_pairs_hold_the_fitted_images_and_their_ground_truth(folder, capsys):
    main(["image-pairs", str(folder / "src"), str(folder / "out"), "--pairs", str(folder / "pairs.csv"), "--size", "32"])
    assert "3 pairs (2 dropped) over 3 images (2 failed)" in capsys.readouterr().out
    status = {row["id"]: row["status"] for row in read_manifest(folder / "out")}
    assert status["people/missing.png"] == "failed: missing file"
    assert status["broken.jpg"].startswith("failed: unreadable image")
    train, test, ood = (ImagePairs(folder / "out", split) for split in ("train", "test", "ood"))
    assert (len(train), len(test), len(ood)) == (1, 1, 1)
    batch = ood.__getitems__([0])
    assert batch["context"].shape == (1, 1, 3, 32, 32)
    np.testing.assert_array_equal(batch["context"][0, 0].permute(1, 2, 0).numpy(), fit_frames(PHOTOS["chelsea"][None], 32)[0])
    np.testing.assert_array_equal(batch["target"][0, 0].permute(1, 2, 0).numpy(), fit_frames(PHOTOS["astronaut"][None], 32)[0])
    assert batch["gt_age"].tolist() == [7.0] and batch["gt_identity"].tolist() == [0.0]  # codes of sorted names
    assert test[0]["gt_identity"].item() == 1.0 and test[0]["pair"].item() == 1


def test_bad_split_names_and_missing_columns_are_reported(folder):
    (folder / "bad.csv").write_text("context,target,split\na.png,b.png,validation\n")
    with pytest.raises(SystemExit, match="^error: .*line 2: split 'validation', expected one of") as stop:
        main(["image-pairs", str(folder / "src"), str(folder / "o1"), "--pairs", str(folder / "bad.csv")])
    assert "\n" not in str(stop.value.code) and not (folder / "o1" / "meta.json").exists()
    (folder / "cols.csv").write_text("first,second\na.png,b.png\n")
    with pytest.raises(SystemExit, match="missing columns \\['context', 'target'\\]"):
        main(["image-pairs", str(folder / "src"), str(folder / "o2"), "--pairs", str(folder / "cols.csv")])
    with pytest.raises(DatasetFolderError, match="line 2: split 'validation'"):  # --debug: the exception itself
        main(["image-pairs", str(folder / "src"), str(folder / "o3"), "--pairs", str(folder / "bad.csv"), "--debug"])
