"""Evaluation over a folder of predictions."""
import glob
import json
import os

import numpy as np


def evaluate(pred_dir, gt_file):
    with open(gt_file) as f:
        gt = json.load(f)
    scores = {}
    for path in glob.glob(os.path.join(pred_dir, "*.json")):
        with open(path) as f:
            pred = json.load(f)
        scores[os.path.basename(path)] = float(np.mean([p == gt[k] for k, p in pred.items()]))
    return scores


def summary(scores):
    names = sorted(scores)
    return {"mean": float(np.mean([scores[n] for n in names])), "n": len(names)}


def first_prediction(pred_dir):
    preds = glob.glob(os.path.join(pred_dir, "*.json"))  # expect: RPT002
    with open(preds[0]) as f:
        return json.load(f)


def report_missing(pred_dir, expected):
    present = set(os.listdir(pred_dir))
    for name in expected:
        if name not in present:
            print("missing", name)
