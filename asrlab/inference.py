"""The one loop that runs a model over a dataset: :func:`run_model`.

Every pass of a trained model over data (evaluation and decoding, CTC posteriors for decoder
tuning, pooled features for domain diagnostics and model selection, cached layers for probes)
is a loop over :func:`run_model`'s :class:`ModelOutput` batches: the model runs in eval mode
without gradients, over length-sorted batches (``shuffle=False``), and every batch says which
dataset items it holds, so callers put results back in dataset order.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import torch

from asrlab.config import LoaderConfig
from asrlab.datasets import Batch, SpeechDataset, make_loader
from asrlab.models.base import CTCModel, EncoderOutput

__all__ = ["ModelOutput", "run_model"]


@dataclass(frozen=True)
class ModelOutput:
    """What the model gave for one batch.

    Attributes:
        indices: the batch's rows as positions in the dataset (row ``j`` is item ``indices[j]``).
        batch: the padded batch, on the model's device: ``feats (B, T, F)``, ``feat_lens (B,)``...
        log_probs: ``(B, T', V)`` float CTC log-probabilities; frames past ``out_lens`` are padding.
        out_lens: ``(B,)`` valid output frames.
        encoder: the :class:`~asrlab.models.base.EncoderOutput` with every layer's ``(B, T', D_l)``
            output (input projection first), when asked for with ``return_encoder``; else None.
        seconds: wall time of moving the batch to the device and the forward pass.
    """

    indices: list[int]
    batch: Batch
    log_probs: torch.Tensor
    out_lens: torch.Tensor
    encoder: EncoderOutput | None
    seconds: float


@torch.no_grad()
def run_model(model: CTCModel, dataset: SpeechDataset, data: LoaderConfig | None = None,
              device: torch.device | str = "cpu", *, return_encoder: bool = False,
              progress: bool = False) -> Iterator[ModelOutput]:
    """Run ``model`` over ``dataset`` batch by batch, in eval mode and without gradients.

    The batches are :func:`~asrlab.datasets.make_loader`'s with ``shuffle=False`` (sorted by
    length, packed under ``data.max_seconds``). The model's training mode is put back when the
    iteration ends, also when it raises; a caller that may stop early should close the iterator
    (``with contextlib.closing(run_model(...)) as outputs:``) so that this happens at once.

    Args:
        model: a CTC model, already on ``device``.
        dataset: the utterances to run.
        data: batching settings (default: ``LoaderConfig(num_workers=0)``).
        device: where the batches go.
        return_encoder: also return every layer's output (:attr:`ModelOutput.encoder`).
        progress: show a progress bar over the batches.

    Yields:
        One :class:`ModelOutput` per batch; together they cover every item of ``dataset`` once.
    """
    from tqdm.auto import tqdm

    loader = make_loader(dataset, data or LoaderConfig(num_workers=0), shuffle=False)
    order = [list(batch) for batch in loader.batch_sampler]
    target = torch.device(device)
    was_training = model.training
    model.eval()
    try:
        batches = tqdm(loader, desc="model", unit="batch", disable=not progress, leave=False)
        for indices, batch in zip(order, batches):
            began = time.perf_counter()
            batch = batch.to(target)
            if return_encoder:
                log_probs, out_lens, encoder = model(batch.feats, batch.feat_lens, return_encoder=True)
            else:
                (log_probs, out_lens), encoder = model(batch.feats, batch.feat_lens), None
            yield ModelOutput(indices, batch, log_probs, out_lens, encoder, time.perf_counter() - began)
    finally:
        model.train(was_training)
