"""Hugging Face fine-tuning script."""
import os
import random

import numpy as np
import torch
from datasets import load_dataset
from torch.utils.data import DataLoader
from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed


def main(model_name="bert-base-uncased", seed=13):
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    model = AutoModelForSequenceClassification.from_pretrained(model_name, num_labels=2)
    set_seed(seed)  # expect: RPT011
    raw = load_dataset("glue", "sst2")
    label_names = set(raw["train"]["label"])
    print("labels:", label_names)
    enc = raw.map(lambda b: tokenizer(b["sentence"], truncation=True), batched=True)
    loader = DataLoader(enc["train"], batch_size=16, shuffle=True,  # expect: RPT010
                        collate_fn=lambda b: tokenizer.pad(b, return_tensors="pt"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    for batch in loader:
        out = model(**batch)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def main_ok(model_name="bert-base-uncased", seed=13):
    set_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    model = AutoModelForSequenceClassification.from_pretrained(model_name, num_labels=2)
    os.makedirs("out", exist_ok=True)
    return tokenizer, model
