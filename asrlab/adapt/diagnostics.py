"""How far apart two domains are, returned as plain values (nothing is stored on a module).

* :func:`domain_accuracy`: balanced accuracy of a domain discriminator's logits;
* :func:`final_mean`: the mean of a per-step log over the last steps of a run;
* :func:`proxy_a_distance`: ``2 (1 - 2 err)`` of a linear classifier (Ben-David et al. 2007);
* :func:`pooled_features`: utterance-pooled encoder features of a dataset, to feed the above
  (:func:`pool_layer` pools one batch's).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from asrlab.adapt.discriminator import encoder_layer, masked_mean
from asrlab.config import LoaderConfig
from asrlab.datasets import SpeechDataset
from asrlab.inference import run_model
from asrlab.models.base import CTCModel, EncoderOutput


#: Steps at the end of a run over which :func:`final_mean` averages a per-step value.
FINAL_STEPS = 10


def final_mean(values: Sequence[float], steps: int = FINAL_STEPS) -> float:
    """Mean of the last ``steps`` values of a per-step log such as ``disc_acc`` (all of them when
    there are fewer; NaN when there are none): one step's accuracy is too noisy to read alone."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    tail = [float(v) for v in list(values)[-steps:]]
    return float(np.mean(tail)) if tail else float("nan")


def domain_accuracy(source_logits: torch.Tensor, target_logits: torch.Tensor) -> float:
    """Balanced accuracy of domain logits (source should be < 0, target > 0); 0.5 is chance.

    Args:
        source_logits: ``(N,)`` logits of source examples.
        target_logits: ``(M,)`` logits of target examples.
    """
    if source_logits.numel() == 0 or target_logits.numel() == 0:
        raise ValueError("both domains need at least one example")
    source_right = (source_logits.detach() < 0).float().mean()
    target_right = (target_logits.detach() > 0).float().mean()
    return float(0.5 * (source_right + target_right))


def _as_numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (N, D) rows, got shape {x.shape}")
    return x


def proxy_a_distance(source: np.ndarray | torch.Tensor, target: np.ndarray | torch.Tensor,
                     test_fraction: float = 0.5, C: float = 1.0, seed: int = 0) -> float:
    """The proxy A-distance ``2 (1 - 2 err)`` between two samples of pooled features.

    A logistic-regression classifier (on standardised features) learns to tell the domains apart
    on part of each sample; ``err`` is its balanced error on the rest, capped at 0.5. The value
    is near 0 when the domains cannot be told apart and near 2 when they separate perfectly.

    Args:
        source: ``(N, D)`` rows (e.g. utterance-pooled encoder features), ``N >= 2``.
        target: ``(M, D)`` rows, ``M >= 2``.
        test_fraction: share of each domain held out to measure the error.
        C: inverse regularisation strength of the classifier.
        seed: the split's seed.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xs, xt = _as_numpy(source), _as_numpy(target)
    if xs.shape[1] != xt.shape[1]:
        raise ValueError(f"source has {xs.shape[1]} features per row but target has {xt.shape[1]}")
    if len(xs) < 2 or len(xt) < 2:
        raise ValueError("each domain needs at least two rows (one to train on, one to test on)")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)

    def split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = rng.permutation(len(x))
        n_test = min(len(x) - 1, max(1, round(test_fraction * len(x))))
        return x[order[n_test:]], x[order[:n_test]]

    (s_train, s_test), (t_train, t_test) = split(xs), split(xt)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, class_weight="balanced"))
    classifier.fit(np.concatenate([s_train, t_train]),
                   np.concatenate([np.zeros(len(s_train)), np.ones(len(t_train))]))
    err = 0.5 * (float(np.mean(classifier.predict(s_test) != 0)) + float(np.mean(classifier.predict(t_test) != 1)))
    return 2.0 * (1.0 - 2.0 * min(err, 0.5))


def pool_layer(encoder: EncoderOutput, layer: int = -1) -> np.ndarray:
    """``(B, D)`` float32: each utterance's output at ``layer`` averaged over its valid frames.

    Args:
        encoder: a batch's encoder output (``(B, T', D)`` layers and ``(B,)`` lengths).
        layer: as for :func:`~asrlab.adapt.discriminator.encoder_layer` (-1 is the last layer).
    """
    return masked_mean(encoder_layer(encoder, layer).float(), encoder.lengths).cpu().numpy()


def pooled_features(model: CTCModel, dataset: SpeechDataset, layer: int = -1, data: LoaderConfig | None = None,
                    device: torch.device | str = "cpu") -> np.ndarray:
    """Each utterance's encoder output at ``layer``, averaged over its valid frames.

    Returns:
        ``(len(dataset), D)`` float32 array, in dataset order.
    """
    rows: dict[int, np.ndarray] = {}
    for out in run_model(model, dataset, data, device, return_encoder=True):
        rows.update(zip(out.indices, pool_layer(out.encoder, layer)))
    return np.stack([rows[i] for i in range(len(dataset))]).astype(np.float32)


__all__ = ["FINAL_STEPS", "domain_accuracy", "final_mean", "pool_layer", "pooled_features",
           "proxy_a_distance"]
