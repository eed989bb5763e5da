"""Source replay against forgetting: keep training on some source speech while fine-tuning.

Fine-tuning on a target (a new language, a new accent) moves the model away from what it could
do; L2-SP (:func:`asrlab.finetune.l2sp_penalty`) holds the weights near where they started,
replay instead keeps the old task in the loss: every step also takes a batch of labelled source
utterances, and the loss is ``CTC_target + rho * CTC_source``.

:class:`SourceReplay` is that term as an :class:`~asrlab.train.ExtraLoss` for
:func:`~asrlab.train.fit`. It draws its source batches itself, in a fixed order: the source
utterances are shuffled once per pass (seeded by ``(seed, pass)``) and cut into consecutive
batches of ``batch_size``; the batch of a call depends only on the optimiser step and the
micro-batch within it, so a resumed run replays exactly what an uninterrupted one would.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from asrlab.datasets import SpeechDataset, collate
from asrlab.models.base import CTCModel, EncoderOutput

if TYPE_CHECKING:
    from asrlab.train import StepInfo


class SourceReplay:
    """The :class:`~asrlab.train.ExtraLoss` ``rho * CTC`` on batches of labelled source speech.

    The hook runs ``model`` itself on its source batch (in the step's autocast region, in
    training mode: dropout applies, SpecAugment does not) and logs ``replay_ctc``, the source CTC
    loss before ``rho``. It needs the model being trained, not a DistributedDataParallel
    wrapper, and runs in single-process training (in a data-parallel job its gradients would not
    be averaged across processes).

    Args:
        model: the model being trained.
        data: labelled source utterances, encoded with the model's vocabulary.
        weight: rho.
        batch_size: source utterances per call (at most ``len(data)``).
        seed: the shuffling of the source utterances.
        per_step: calls per optimiser step (``TrainConfig.grad_accum``), so that each
            micro-batch gets its own source batch.

    Raises:
        ValueError: unlabelled data, a negative weight, or a batch size below 1.
    """

    def __init__(self, model: CTCModel, data: SpeechDataset, weight: float, batch_size: int = 8, seed: int = 0,
                 per_step: int = 1) -> None:
        if not data.labelled:
            raise ValueError("source replay needs labelled source data (SpeechDataset(..., labelled=True))")
        if weight < 0 or batch_size < 1 or per_step < 1:
            raise ValueError(f"weight must be >= 0 and batch_size, per_step >= 1; got {weight}, {batch_size}, "
                             f"{per_step}")
        self.model, self.data, self.weight = model, data, float(weight)
        self.batch_size = min(batch_size, len(data))
        self.seed, self.per_step = seed, per_step
        self._step, self._calls = -1, 0
        self._orders: dict[int, np.ndarray] = {}

    def order(self, cycle: int) -> np.ndarray:
        """The order of the source utterances in pass ``cycle`` (a permutation, seeded by ``(seed, cycle)``)."""
        if cycle not in self._orders:
            if len(self._orders) > 4:
                self._orders.clear()
            self._orders[cycle] = np.random.default_rng([self.seed, cycle]).permutation(len(self.data))
        return self._orders[cycle]

    def batch_indices(self, position: int) -> list[int]:
        """The dataset indices of the ``position``-th source batch (0, 1, ...), passes running on."""
        n = len(self.data)
        out = []
        for j in range(position * self.batch_size, (position + 1) * self.batch_size):
            cycle, offset = divmod(j, n)
            out.append(int(self.order(cycle)[offset]))
        return out

    def _position(self, info: StepInfo) -> int:
        if info.step != self._step:
            self._step, self._calls = info.step, 0
        position = info.step * self.per_step + min(self._calls, self.per_step - 1)
        self._calls += 1
        return position

    def __call__(self, source: EncoderOutput, target: EncoderOutput | None,
                 info: StepInfo) -> tuple[torch.Tensor, dict[str, float]]:
        batch = collate([self.data[i] for i in self.batch_indices(self._position(info))])
        batch = batch.to(source.hidden.device)
        log_probs, out_lens = self.model(batch.feats, batch.feat_lens)
        ctc = F.ctc_loss(log_probs.float().transpose(0, 1), batch.tokens, out_lens, batch.token_lens,
                         blank=self.data.vocab.blank, reduction="mean", zero_infinity=False)
        if not torch.isfinite(ctc):
            raise FloatingPointError(f"the source replay CTC loss is {float(ctc)} for utterances {batch.ids}: "
                                     "check that their transcripts fit their audio")
        return self.weight * ctc, {"replay_ctc": float(ctc.detach())}


__all__ = ["SourceReplay"]
