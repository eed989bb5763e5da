"""A 2-D toy domain shift, small enough to watch MMD, CORAL and DANN work in a second.

Two Gaussian classes sit at ``x = -1`` and ``x = +1``; the target domain is the same problem
moved by ``offset``. A classifier trained on the source alone draws its boundary where the
source needs it and gets much of the target wrong; aligning the hidden features of both domains
(MMD or DANN) moves the target onto the source and recovers most of the accuracy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from asrlab.adapt.diagnostics import FINAL_STEPS, domain_accuracy, final_mean
from asrlab.adapt.discriminator import DomainDiscriminator
from asrlab.adapt.losses import DEFAULT_MULTIPLIERS, coral, dann_loss, gaussian_mmd

TOY_METHODS: tuple[str, ...] = ("source-only", "mmd", "coral", "dann")
#: Headers of the columns of :func:`mmd_versus_shift`'s rows, for :func:`asrlab.course.runner.markdown_table`.
CURVE_COLUMNS: dict[str, str] = {"shift": "distance between the means", "biased": "biased MMD²",
                                 "biased_std": "biased sd", "unbiased": "unbiased MMD²", "unbiased_std": "unbiased sd"}
#: Headers of :func:`result_rows`' columns, for :func:`asrlab.course.runner.markdown_table`.
RESULT_COLUMNS: dict[str, str] = {"method": "method", "uses_target_labels": "target labels",
                                  "source_accuracy": "source accuracy %", "target_accuracy": "target accuracy %",
                                  "final_disc_accuracy": f"discriminator accuracy, last {FINAL_STEPS} steps %"}


def shifted_blobs(seed: int, n: int = 200, offset: Sequence[float] = (1.2, 2.0)) -> tuple[torch.Tensor, ...]:
    """Labelled source and target samples of the toy problem.

    Args:
        seed: the samples' seed.
        n: rows per domain.
        offset: how far the target is moved, ``(dx, dy)``.

    Returns:
        ``(xs (n, 2), ys (n,), xt (n, 2), yt (n,))``; ``yt`` is only for measuring accuracy.
    """
    if n < 2:
        raise ValueError(f"need at least two rows per domain, got n={n}")
    g = torch.Generator().manual_seed(seed)

    def blobs() -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(2, (n,), generator=g)
        centres = torch.stack([2.0 * y - 1.0, torch.zeros(n)], dim=1)
        return torch.randn(n, 2, generator=g) * 0.4 + centres, y

    (xs, ys), (xt, yt) = blobs(), blobs()
    return xs, ys, xt + torch.tensor([float(v) for v in offset]), yt


@dataclass
class ToyResult:
    """A trained toy model.

    Attributes:
        method: ``"source-only"``, ``"mmd"``, ``"coral"`` or ``"dann"``.
        source_accuracy, target_accuracy: on all rows of each domain.
        disc_acc: per step, a domain discriminator's accuracy on the hidden features (for
            DANN the adversary, otherwise a monitor trained on detached features).
        xs, ys, xt, yt: the data, ``(n, 2)`` and ``(n,)`` arrays.
        grid_x, grid_y, grid_p: ``(G, G)`` arrays: the probability of class 1 over the input plane.
    """

    method: str
    source_accuracy: float
    target_accuracy: float
    disc_acc: list[float] = field(default_factory=list)
    xs: np.ndarray | None = None
    ys: np.ndarray | None = None
    xt: np.ndarray | None = None
    yt: np.ndarray | None = None
    grid_x: np.ndarray | None = None
    grid_y: np.ndarray | None = None
    grid_p: np.ndarray | None = None


def train_toy(seed: int, method: str, steps: int = 120, batch: int = 64, weight: float = 1.0,
              offset: Sequence[float] = (1.2, 2.0), grid: int = 60,
              multipliers: Sequence[float] = DEFAULT_MULTIPLIERS) -> ToyResult:
    """Train a small MLP on labelled source rows, plus ``weight * alignment`` with target rows.

    Args:
        seed: data and initialisation seed.
        method: one of :data:`TOY_METHODS`.
        steps: Adam steps (learning rate 0.01).
        batch: rows per domain per step.
        weight: lambda of the alignment term (ignored for ``"source-only"``).
        offset: the target's shift.
        grid: points per side of the decision map.
        multipliers: the MMD's kernel widths relative to the median heuristic (``"mmd"`` only):
            the default mixes five widths; ``(1.0,)`` is the median width alone, ``(0.01,)`` one
            far too narrow.
    """
    if method not in TOY_METHODS:
        raise ValueError(f"unknown toy method {method!r}; use one of {', '.join(TOY_METHODS)}")
    multipliers = tuple(float(m) for m in multipliers)
    if not multipliers or any(not m > 0 for m in multipliers):
        raise ValueError(f"multipliers must be positive numbers, got {multipliers}")
    xs, ys, xt, yt = shifted_blobs(seed, offset=offset)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    features = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh())
    classifier = nn.Linear(16, 2)
    disc = DomainDiscriminator(16, hidden=16, num_layers=1, dropout=0.0)
    params = [*features.parameters(), *classifier.parameters(), *disc.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2)
    disc_acc = []
    for _ in range(steps):
        i, j = torch.randint(len(xs), (batch,), generator=g), torch.randint(len(xt), (batch,), generator=g)
        hs, ht = features(xs[i]), features(xt[j])
        loss = F.cross_entropy(classifier(hs), ys[i])
        if method == "dann":
            adversarial = dann_loss(disc, hs, None, ht, None, coefficient=1.0)
            loss = loss + weight * adversarial.loss
            disc_acc.append(domain_accuracy(adversarial.source_logits, adversarial.target_logits))
        else:
            s_logits, t_logits = disc(hs.detach(), None), disc(ht.detach(), None)
            loss = loss + F.binary_cross_entropy_with_logits(
                torch.cat([s_logits, t_logits]), torch.cat([torch.zeros_like(s_logits), torch.ones_like(t_logits)]))
            disc_acc.append(domain_accuracy(s_logits, t_logits))
            if method == "mmd":
                loss = loss + weight * gaussian_mmd(hs, ht, multipliers=multipliers)
            elif method == "coral":
                loss = loss + weight * coral(hs, ht)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        source_acc = float((classifier(features(xs)).argmax(1) == ys).float().mean())
        target_acc = float((classifier(features(xt)).argmax(1) == yt).float().mean())
        points = torch.cat([xs, xt])
        lo, hi = points.min(0).values - 0.5, points.max(0).values + 0.5
        gx, gy = torch.meshgrid(torch.linspace(float(lo[0]), float(hi[0]), grid),
                                torch.linspace(float(lo[1]), float(hi[1]), grid), indexing="xy")
        prob = classifier(features(torch.stack([gx.flatten(), gy.flatten()], 1))).softmax(-1)[:, 1]
    return ToyResult(method, source_acc, target_acc, disc_acc, xs.numpy(), ys.numpy(), xt.numpy(), yt.numpy(),
                     gx.numpy(), gy.numpy(), prob.reshape(grid, grid).numpy())


def result_rows(results: Sequence[ToyResult]) -> list[dict[str, object]]:
    """One table row per toy run, headed by :data:`RESULT_COLUMNS`.

    Each row has the run's accuracies, its discriminator's mean accuracy over the last
    :data:`~asrlab.adapt.diagnostics.FINAL_STEPS` steps, and ``uses_target_labels``: ``"no"``, as
    training never reads the target labels (they only measure the target accuracy).
    """
    return [{"method": r.method, "uses_target_labels": "no", "source_accuracy": r.source_accuracy,
             "target_accuracy": r.target_accuracy, "final_disc_accuracy": final_mean(r.disc_acc)} for r in results]


def mmd_versus_shift(shifts: Sequence[float], n: int = 100, dim: int = 2, repeats: int = 20,
                     seed: int = 0) -> list[dict[str, float]]:
    """Biased and unbiased MMD between two Gaussian samples whose means are ``shift`` apart.

    Each sample is ``N(0, I)`` (source) and ``N(shift * e_1, I)`` (target) with ``n`` rows; the
    values are averaged over ``repeats`` draws, with their standard deviation.

    Returns:
        One row per shift: ``shift``, ``biased``, ``biased_std``, ``unbiased``, ``unbiased_std``.
    """
    g = torch.Generator().manual_seed(seed)
    rows = []
    for shift in shifts:
        values: dict[str, list[float]] = {"biased": [], "unbiased": []}
        for _ in range(repeats):
            a = torch.randn(n, dim, generator=g)
            b = torch.randn(n, dim, generator=g)
            b[:, 0] += float(shift)
            for name in values:
                values[name].append(float(gaussian_mmd(a, b, unbiased=name == "unbiased")))
        rows.append({"shift": float(shift), **{k: float(np.mean(v)) for k, v in values.items()},
                     **{f"{k}_std": float(np.std(v)) for k, v in values.items()}})
    return rows


__all__ = ["CURVE_COLUMNS", "RESULT_COLUMNS", "TOY_METHODS", "ToyResult", "mmd_versus_shift", "result_rows",
           "shifted_blobs", "train_toy"]
