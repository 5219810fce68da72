"""build_dataset for frames: built-in generators fill a missing folder once, FramePairs reads it."""

import pytest
import torch

from worldmodel.config import DataConfig
from worldmodel.data import FramePairs, build_dataset, generator_names


def test_missing_mmnist_folder_is_generated_once_then_read_as_clip_pairs(tmp_path):
    cfg = DataConfig(kind="frames", path=str(tmp_path / "mmnist"), generator="mmnist", context=3, gap=2,
                     generator_args={"videos": 5, "frames": 9, "size": 32, "digit_size": 12, "digits": 1})
    train = build_dataset(cfg, "train")
    meta = tmp_path / "mmnist" / "meta.json"
    written = meta.stat().st_mtime_ns
    test = build_dataset(cfg, "test")
    assert meta.stat().st_mtime_ns == written  # the second call reads, it does not regenerate
    assert isinstance(train, FramePairs) and (train.context, train.gap) == (3, 2)
    assert (len(train), len(test)) == (4 * (9 - 5 + 1), 1 * (9 - 5 + 1))  # 1 of 5 videos held out
    item = train[0]
    assert item["context"].shape == (3, 1, 32, 32) and item["context"].dtype == torch.uint8
    target_first_frame = train.store.gather(train.first[:1, None] + 2)[0, 0, :, :, 0]  # (H, W)
    assert torch.equal(torch.from_numpy(target_first_frame), item["target"][0, 0])
    assert {"gt_position", "gt_velocity", "gt_acceleration", "action"} <= set(item)
    other = DataConfig(kind="frames", path=cfg.path, generator="mmnist", generator_args={**cfg.generator_args, "digits": 2})
    with pytest.raises(ValueError, match="generated with other data.generator_args \\(digits: folder 1 vs config 2\\)"):
        build_dataset(other, "train")
    prepared = DataConfig(kind="frames", path=cfg.path, context=3, gap=2, generator=None,
                          generator_args=other.generator_args)
    assert len(build_dataset(prepared, "train")) == len(train)  # generator=null: the folder is read as prepared


def test_generator_registry_and_unknown_kind(tmp_path):
    assert {"numerical", "mmnist", "camera_pan", "digit_pairs"} <= set(generator_names())
    (tmp_path / "meta.json").write_text("{}")
    with pytest.raises(ValueError, match="data.kind 'video'; expected 'numerical', 'frames' or 'image_pairs'"):
        build_dataset(DataConfig(kind="video", path=str(tmp_path)), "train")


def test_an_unknown_generator_option_names_it_and_the_closest_valid_one(tmp_path):
    cfg = DataConfig(kind="numerical", path=str(tmp_path / "num"), generator="numerical",
                     generator_args={"mixing_layer": 8})
    with pytest.raises(ValueError, match=r"'mixing_layer' is not an option of the 'numerical' generator; "
                                         r"closest: \['mixing_layers'"):
        build_dataset(cfg, "train")
    assert not (tmp_path / "num").exists()  # nothing half-written
