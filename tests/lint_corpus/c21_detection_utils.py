"""Detection dataset helpers (COCO-like annotations)."""
import json
import os

import torch


def load_annotations(ann_file):
    with open(ann_file) as f:
        data = json.load(f)
    cat_names = {c["name"] for c in data["categories"]}
    cat_ids = {name: i for i, name in enumerate(sorted(cat_names))}
    image_files = list({img["file_name"] for img in data["images"]})  # expect: RPT001
    return cat_ids, image_files


def images_without_annotations(data):
    annotated = {a["image_id"] for a in data["annotations"]}
    all_ids = {img["id"] for img in data["images"]}
    missing = all_ids - annotated
    for image_id in missing:
        print("no annotations for image", image_id)
    return len(missing)


def categories_present(annotations, name_to_id):
    names = set()
    for a in annotations:
        names.add(a["category"])
    return torch.tensor([name_to_id[n] for n in names])  # expect: RPT001


def anchors_for(levels):
    strides = {8, 16, 32, 64, 128}
    return [(s, s * 4) for s in strides if s in levels]


def list_splits(root):
    splits = [d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))]  # expect: RPT002
    return splits
