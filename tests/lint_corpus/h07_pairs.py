"""Image/mask pairing for a segmentation preprocessing script."""
import os
from pathlib import Path


def pairs_unsorted(root):
    images = list(Path(root, "images").glob("*.png"))  # expect: RPT002
    masks = list(Path(root, "masks").glob("*.png"))  # expect: RPT002
    return list(zip(images, masks))


def pairs_by_name(root):
    masks = {p.stem: p for p in Path(root, "masks").glob("*.png")}
    return [(img, masks[img.stem]) for img in sorted(Path(root, "images").glob("*.png"))]


def scan_names(directory):
    with os.scandir(directory) as it:  # expect: RPT002
        names = [e.name for e in it if e.is_file()]
    return names


def scan_count(directory):
    with os.scandir(directory) as it:
        return sum(1 for e in it if e.is_file())
