"""CTC speech recognition training step."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ASR(nn.Module):
    def __init__(self, n_mels=80, vocab=32):
        super().__init__()
        self.rnn = nn.LSTM(n_mels, 256, num_layers=3, bidirectional=True, batch_first=True)
        self.out = nn.Linear(512, vocab)
        self.ctc = nn.CTCLoss(blank=0, zero_infinity=True)  # expect: RPT012

    def forward(self, feats):
        h, _ = self.rnn(feats)
        return F.log_softmax(self.out(h), dim=-1)


def step(model, batch, optimizer):
    feats, targets, feat_lens, target_lens = batch
    log_probs = model(feats).transpose(0, 1)
    loss = F.ctc_loss(log_probs, targets, feat_lens, target_lens)  # expect: RPT012
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def vocab_from_transcripts(transcripts):
    chars = sorted(set("".join(transcripts)))
    return {c: i + 1 for i, c in enumerate(chars)}
