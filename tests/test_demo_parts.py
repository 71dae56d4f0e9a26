"""The detection demo's building blocks: dataset, augmentations, targets, model, mAP, config, checkpoints, PNG."""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from reprotorch.demo import DetectionConfig
from reprotorch.demo.augment import (
    ColorJitter,
    GaussianNoise,
    RandomFlip,
    RandomScaleCrop,
    ToTensor,
    eval_pipeline,
    train_pipeline,
)
from reprotorch.demo.checkpoint import load_checkpoint, save_checkpoint
from reprotorch.demo.evaluate import average_precision, mean_average_precision
from reprotorch.demo.model import STRIDE, TinyCenterNet
from reprotorch.demo.png import Canvas, encode_png, read_png
from reprotorch.demo.shapes import CATEGORY_NAMES, ShapesDataset
from reprotorch.demo.targets import decode_detections, encode_targets

# ----------------------------------------------------------------------------- dataset


def test_samples_are_a_function_of_the_index_only():
    a = ShapesDataset(8, content_seed=3)
    random.seed(1)
    np.random.seed(1)
    first = a.raw(5)
    b = ShapesDataset(8, content_seed=3, classes=a.CLASSES)
    random.seed(2)
    np.random.seed(2)  # global generators must not matter
    second = b.raw(5)
    for key in ("img", "bboxes", "labels"):
        assert np.array_equal(first[key], second[key])
    assert not np.array_equal(a.raw(4)["img"], first["img"])


def test_dataset_does_not_touch_global_generators():
    ds = ShapesDataset(4)
    before = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    ds.raw(0)
    ds.raw(3)
    assert random.getstate() == before[0]
    assert np.array_equal(np.random.get_state()[1], before[1])
    assert torch.equal(torch.get_rng_state(), before[2])


def test_annotations_have_one_to_four_boxes_inside_the_image():
    ds = ShapesDataset(64, image_size=64)
    counts = set()
    for i in range(len(ds)):
        item = ds.raw(i)
        n = len(item["labels"])
        counts.add(n)
        boxes = item["bboxes"]
        assert item["img"].shape == (64, 64, 3) and item["img"].dtype == np.float32
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= 64).all() and (boxes[:, 3] <= 64).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert counts == {1, 2, 3, 4}
    assert sorted(ds.CLASSES) == sorted(CATEGORY_NAMES)


def test_class_order_follows_the_string_hash_seed():
    code = "from reprotorch.demo.shapes import ShapesDataset; print(','.join(ShapesDataset(64).CLASSES))"
    orders = []
    for seed in ("0", "0", "1"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        orders.append(out.stdout.strip())
    assert orders[0] == orders[1]
    assert orders[0] != orders[2]


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_dataset_rejects_bad_length(bad):
    with pytest.raises(ValueError, match="length"):
        ShapesDataset(bad)


# ----------------------------------------------------------------------------- augmentations


def _states():
    return random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()


def _changed(before, after):
    return {
        "python": before[0] != after[0],
        "numpy": not np.array_equal(before[1], after[1]),
        "torch": not torch.equal(before[2], after[2]),
    }


@pytest.mark.parametrize(
    "make, uses",
    [
        (lambda: [RandomFlip(0.5)], "python"),
        (lambda: [RandomScaleCrop()], "numpy"),
        (lambda: [ToTensor(), ColorJitter()], "torch"),
        (lambda: [ToTensor(), GaussianNoise()], "torch"),
    ],
)
def test_each_augmentation_draws_from_its_own_global_generator(make, uses):
    ds = ShapesDataset(4)
    item = ds.raw(1)
    before = _states()
    for step in make():
        item = step(item)
    assert _changed(before, _states()) == {k: k == uses for k in ("python", "numpy", "torch")}


def test_augmentations_follow_the_seeds_and_keep_boxes_valid():
    ds = ShapesDataset(16)
    pipe = train_pipeline(len(ds.CLASSES))

    def run(seed):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        return [pipe(ds.raw(i)) for i in range(16)]

    a, b, c = run(0), run(0), run(1)
    for (ia, ta), (ib, tb) in zip(a, b):
        assert torch.equal(ia, ib)
        assert all(torch.equal(ta[k], tb[k]) for k in ta)
    assert any(not torch.equal(x[0], y[0]) for x, y in zip(a, c))
    for img, targets in a:
        assert img.shape == (3, 64, 64)
        assert targets["heatmap"].shape == (len(ds.CLASSES), 16, 16)
        assert float(targets["heatmap"].max()) <= 1.0

    # flip and crop keep boxes inside the image
    random.seed(3)
    np.random.seed(3)
    for i in range(16):
        item = RandomScaleCrop()(RandomFlip(1.0)(ds.raw(i)))
        boxes = item["bboxes"]
        assert len(boxes) == len(item["labels"])
        assert (boxes >= 0).all() and (boxes <= 64).all()
        assert (boxes[:, 2] > boxes[:, 0]).all()


# ----------------------------------------------------------------------------- targets, model, mAP


def test_encoded_targets_decode_back_to_the_boxes():
    boxes = np.array([[4, 8, 20, 24], [30, 30, 54, 50]], dtype=np.float32)
    labels = np.array([2, 0])
    t = encode_targets(boxes, labels, 5, (16, 16), STRIDE)
    assert t["mask"].sum() == 2 and t["heatmap"].max() == 1.0
    logits = torch.logit(t["heatmap"].clamp(1e-4, 1 - 1e-4))[None]
    dets = decode_detections(logits, t["wh"][None], t["offset"][None], STRIDE, score_threshold=0.5)
    out_boxes, scores, out_labels = dets[0]
    assert sorted(out_labels.tolist()) == [0, 2]
    for box, label in zip(out_boxes.numpy(), out_labels.tolist()):
        assert np.allclose(box, boxes[list(labels).index(label)], atol=1e-4)


def test_average_precision_known_values():
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    # one true positive then one false positive, 2 ground-truth boxes: AP = 0.5
    assert average_precision(np.array([0.5, 0.5]), np.array([1.0, 0.5])) == pytest.approx(0.5)
    gt = [(np.array([[0, 0, 10, 10]], dtype=np.float32), np.array([1]))]
    perfect = [(np.array([[0, 0, 10, 10]], dtype=np.float32), np.array([0.9]), np.array([1]))]
    wrong_class = [(perfect[0][0], perfect[0][1], np.array([0]))]
    assert mean_average_precision(perfect, gt, 3)["map"] == pytest.approx(1.0)
    assert mean_average_precision(wrong_class, gt, 3)["map"] == 0.0
    assert mean_average_precision(perfect, gt, 3)["ap"] == [None, 1.0, None]
    with pytest.raises(ValueError, match="ground truth for 1"):
        mean_average_precision([], gt, 3)


def test_model_losses_and_dropout_randomness():
    ds = ShapesDataset(8)
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    pipe = train_pipeline(len(ds.CLASSES))
    items = [pipe(ds.raw(i)) for i in range(4)]
    img = torch.stack([x[0] for x in items])
    targets = {k: torch.stack([x[1][k] for x in items]) for k in items[0][1]}
    model = TinyCenterNet(len(ds.CLASSES))
    losses = model(img, targets)
    assert set(losses) == {"loss_heatmap", "loss_wh", "loss_offset"}
    assert all(torch.isfinite(v) for v in losses.values())
    torch.manual_seed(1)
    a = model(img)["heatmap"]
    torch.manual_seed(2)
    b = model(img)["heatmap"]
    assert not torch.equal(a, b)  # dropout draws from torch's generator in training mode
    model.eval()
    assert torch.equal(model(img)["heatmap"], model(img)["heatmap"])
    assert len(model.detect(img)) == 4


def test_eval_pipeline_keeps_ground_truth():
    ds = ShapesDataset(2, pipeline=eval_pipeline())
    item = ds[0]
    assert item["img"].shape == (3, 64, 64) and len(item["bboxes"]) == len(item["labels"])


# ----------------------------------------------------------------------------- config


def test_config_json_roundtrip(tmp_path):
    cfg = DetectionConfig(seed=7, workers=2, seed_sources=["python", "torch"])
    assert cfg.seed_sources == ("python", "torch")
    cfg.save(tmp_path / "c.json")
    again = DetectionConfig.load(tmp_path / "c.json")
    assert again == cfg
    assert json.loads((tmp_path / "c.json").read_text())["seed_sources"] == ["python", "torch"]


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"seed": "1"}, TypeError, "seed must be an int"),
        ({"seed": -1}, ValueError, "seed must be in"),
        ({"epochs": 0}, ValueError, "epochs must be >= 1"),
        ({"batch_size": 2.0}, TypeError, "batch_size must be an int"),
        ({"deterministic": 1}, TypeError, "deterministic must be a bool"),
        ({"seed_sources": ("python", "jax")}, ValueError, "unknown names"),
        ({"deterministic": True, "cudnn_benchmark": True}, ValueError, "contradicts"),
        ({"image_size": 50}, ValueError, "multiple of 4"),
    ],
)
def test_config_rejects_bad_values(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        DetectionConfig(**kwargs)


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("seed = 3\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        DetectionConfig.load(bad)
    bad.write_text('{"seeds": 3}')
    with pytest.raises(ValueError, match=r"unknown config fields \['seeds'\]"):
        DetectionConfig.load(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DetectionConfig.load(tmp_path / "missing.json")


# ----------------------------------------------------------------------------- checkpoints


class _Boom:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_roundtrip_and_refusals(tmp_path):
    ckpt = {"step": 3, "model": {"w": torch.ones(2)}, "optimizer": {}, "meta": {"seed": 1}, "config": {"seed": 1},
            "history": {"loss": [0.5, 0.4, 0.3]}}
    save_checkpoint(tmp_path / "c.pth", ckpt)
    back = load_checkpoint(tmp_path / "c.pth")
    assert back["step"] == 3 and torch.equal(back["model"]["w"], torch.ones(2))
    assert not list(tmp_path.glob(".c.pth.*"))  # no temporary file left behind

    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pth")
    marker = tmp_path / "executed"
    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"x": _Boom(marker)}))
    with pytest.raises(ValueError, match="not a readable demo checkpoint"):
        load_checkpoint(tmp_path / "evil.pth")
    assert not marker.exists()  # the pickle's code never ran
    buf = io.BytesIO()
    torch.save({"step": 1}, buf)
    (tmp_path / "foreign.pth").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="not a reprotorch demo checkpoint"):
        load_checkpoint(tmp_path / "foreign.pth")
    data = (tmp_path / "c.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable demo checkpoint"):
        load_checkpoint(tmp_path / "cut.pth")


@pytest.mark.parametrize(
    "change, match",
    [
        ({"step": "3"}, "step must be an int >= 0"),
        ({"step": -1}, "step must be an int >= 0"),
        ({"config": [1333]}, "config must be a dict"),
        ({"meta": None}, "meta must be a dict"),
        ({"config": {"batch_size": 8}}, r"config\['seed'\] must be an int"),
        ({"history": {"loss": 3}}, "history must be a dict with a 'loss' list"),
    ],
)
def test_checkpoint_of_the_wrong_shape_is_refused_clearly(tmp_path, change, match):
    ckpt = {"step": 3, "model": {}, "optimizer": {}, "meta": {}, "config": {"seed": 1}, "history": {"loss": []}}
    save_checkpoint(tmp_path / "c.pth", {**ckpt, **change})
    with pytest.raises(ValueError, match="corrupt demo checkpoint: " + match):
        load_checkpoint(tmp_path / "c.pth")
    save_checkpoint(tmp_path / "c.pth", {k: v for k, v in ckpt.items() if k != "history"})
    with pytest.raises(ValueError, match="missing history"):
        load_checkpoint(tmp_path / "c.pth")


def test_demo_files_get_the_mode_a_plain_open_gives(tmp_path):
    # mkstemp's 0600 survived the rename: checkpoints and ablation outputs were unreadable to the team.
    from reprotorch.demo.checkpoint import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "new.json", "{}")
        save_checkpoint(tmp_path / "c.pth", {"step": 0})
        (tmp_path / "kept.json").write_text("old")
        os.chmod(tmp_path / "kept.json", 0o640)
        atomic_write_text(tmp_path / "kept.json", "new")
    finally:
        os.umask(old)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "c.pth").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "kept.json").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "kept.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pth", "kept.json", "new.json"]  # no temp files


# ----------------------------------------------------------------------------- PNG


def test_png_roundtrip_and_corruption():
    c = Canvas(20, 10)
    c.line(0, 0, 19, 9, (255, 0, 0))
    c.text(1, 1, "A1", (0, 0, 255))
    data = c.to_png()
    w, h, rgb = read_png(data)
    assert (w, h) == (20, 10) and rgb == bytes(c.pixels)
    assert c.get(0, 0) == (255, 0, 0) and c.get(19, 9) == (255, 0, 0)
    assert (0, 0, 255) in {c.get(x, y) for x in range(20) for y in range(10)}
    corrupt = bytearray(data)
    corrupt[40] ^= 0xFF
    with pytest.raises(ValueError):
        read_png(bytes(corrupt))
    with pytest.raises(ValueError, match="signature"):
        read_png(b"GIF89a")
    with pytest.raises(ValueError, match="expected 600 bytes"):
        encode_png(10, 20, b"\x00")
