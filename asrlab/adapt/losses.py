"""Distribution-alignment losses: multi-kernel MMD, deep CORAL and the domain-adversarial loss.

Every loss takes source rows ``(N, D)`` and target rows ``(M, D)`` of any sizes ``N`` and
``M`` (use :func:`asrlab.adapt.discriminator.domain_inputs` to turn padded encoder outputs into
rows), and returns a scalar tensor that gradients flow through.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from asrlab.adapt.grl import reverse_gradient
# DEFAULT_MULTIPLIERS: kernel widths relative to the median heuristic, defined with AlignmentConfig.
# Functions take it as the default of their ``multipliers`` argument when they are defined, so
# assigning another tuple to it later changes nothing: pass ``multipliers=`` instead.
from asrlab.config import DEFAULT_MULTIPLIERS


def _rows(name: str, x: torch.Tensor, at_least: int = 1) -> torch.Tensor:
    if x.dim() != 2:
        raise ValueError(f"{name} must be (N, D) rows, got shape {tuple(x.shape)}")
    if x.shape[0] < at_least:
        raise ValueError(f"{name} needs at least {at_least} rows, got {x.shape[0]}")
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _pair(source: torch.Tensor, target: torch.Tensor, at_least: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    source, target = _rows("source", source, at_least), _rows("target", target, at_least)
    if source.shape[1] != target.shape[1]:
        raise ValueError(f"source has {source.shape[1]} features per row but target has {target.shape[1]}")
    return source, target


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||a_i - b_j||^2`` for ``(N, D)`` and ``(M, D)`` rows -> ``(N, M)``.

    Computed as ``|a|^2 + |b|^2 - 2 a.b`` and clamped at 0, so the gradient stays finite where
    two rows coincide (unlike ``cdist(a, b) ** 2``).
    """
    sq = a.pow(2).sum(-1, keepdim=True) + b.pow(2).sum(-1).unsqueeze(0) - 2.0 * a @ b.transpose(0, 1)
    return sq.clamp_min(0.0)


def median_bandwidth(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The median heuristic: the median squared distance between distinct rows of both samples.

    Args:
        source: ``(N, D)`` rows.
        target: ``(M, D)`` rows; ``N + M >= 2``.

    Returns:
        A detached scalar ``sigma^2`` for the kernel ``exp(-||x - y||^2 / (2 sigma^2))`` (a tiny
        positive number when every row is the same).
    """
    source, target = _pair(source, target)
    pooled = torch.cat([source, target]).detach()
    if pooled.shape[0] < 2:
        raise ValueError("the median heuristic needs at least two rows in all")
    dists = squared_distances(pooled, pooled)
    i, j = torch.triu_indices(pooled.shape[0], pooled.shape[0], offset=1, device=pooled.device)
    return dists[i, j].median().clamp_min(1e-12)


def gaussian_mmd(source: torch.Tensor, target: torch.Tensor, bandwidths: Sequence[float] | torch.Tensor | None = None,
                 multipliers: Sequence[float] = DEFAULT_MULTIPLIERS, unbiased: bool = False) -> torch.Tensor:
    """Squared maximum mean discrepancy with a mixture of Gaussian kernels.

    The kernel is ``k(x, y) = mean_k exp(-||x - y||^2 / (2 sigma_k^2))``.

    Args:
        source: ``(N, D)`` rows.
        target: ``(M, D)`` rows; ``M`` need not equal ``N``.
        bandwidths: the ``sigma_k^2``; None takes :func:`median_bandwidth` times each of
            ``multipliers`` (recomputed for every call, without gradient).
        multipliers: factors on the median heuristic when ``bandwidths`` is None.
        unbiased: the unbiased U-statistic (leaves out ``k(x_i, x_i)``; can be slightly below
            0, needs ``N, M >= 2``) instead of the biased V-statistic (always >= 0 up to rounding,
            positive on finite samples even when both come from one distribution).

    Returns:
        A scalar: ``E k(s, s') + E k(t, t') - 2 E k(s, t)``.
    """
    source, target = _pair(source, target, at_least=2 if unbiased else 1)
    if bandwidths is None:
        base = median_bandwidth(source, target)
        sigma2 = base * torch.tensor(list(multipliers), dtype=source.dtype, device=source.device)
    else:
        sigma2 = torch.as_tensor(bandwidths, dtype=source.dtype, device=source.device).reshape(-1).detach()
    if sigma2.numel() == 0 or bool((sigma2 <= 0).any()):
        raise ValueError(f"bandwidths must be positive, got {sigma2.tolist()}")
    n = source.shape[0]
    pooled = torch.cat([source, target])
    dists = squared_distances(pooled, pooled)
    kernel = torch.exp(-dists.unsqueeze(0) / (2.0 * sigma2.view(-1, 1, 1))).mean(0)   # (N+M, N+M)
    k_ss, k_tt, k_st = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    if unbiased:
        m = target.shape[0]
        within_s = (k_ss.sum() - k_ss.diagonal().sum()) / (n * (n - 1))
        within_t = (k_tt.sum() - k_tt.diagonal().sum()) / (m * (m - 1))
        return within_s + within_t - 2.0 * k_st.mean()
    return k_ss.mean() + k_tt.mean() - 2.0 * k_st.mean()


def covariance(x: torch.Tensor) -> torch.Tensor:
    """Sample covariance (divided by ``N - 1``) of ``(N, D)`` rows -> ``(D, D)``; ``N >= 2``."""
    x = _rows("x", x, at_least=2)
    centred = x - x.mean(0, keepdim=True)
    return centred.transpose(0, 1) @ centred / (x.shape[0] - 1)


def coral(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL (Sun & Saenko 2016): ``||C_s - C_t||_F^2 / (4 d^2)``.

    Args:
        source: ``(N, D)`` rows, ``N >= 2``.
        target: ``(M, D)`` rows, ``M >= 2``.

    Returns:
        A scalar >= 0, zero when both samples have the same covariance (the means do not count).
    """
    source, target = _pair(source, target, at_least=2)
    d = source.shape[1]
    return (covariance(source) - covariance(target)).pow(2).sum() / (4.0 * d * d)


def domain_bce(source_logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of domain logits, source labelled 0 and target labelled 1.

    Each domain weighs half, whatever its number of examples (frames of long and short batches
    would otherwise tilt the loss towards the domain with more frames).

    Args:
        source_logits: ``(N,)`` logits of source examples.
        target_logits: ``(M,)`` logits of target examples.
    """
    if source_logits.numel() == 0 or target_logits.numel() == 0:
        raise ValueError("both domains need at least one example")
    s, t = source_logits.float().reshape(-1), target_logits.float().reshape(-1)
    return 0.5 * (F.binary_cross_entropy_with_logits(s, torch.zeros_like(s))
                  + F.binary_cross_entropy_with_logits(t, torch.ones_like(t)))


class AdversarialLoss(NamedTuple):
    """What :func:`dann_loss` gives: the loss and the logits (for diagnostics)."""

    loss: torch.Tensor
    source_logits: torch.Tensor
    target_logits: torch.Tensor


def dann_loss(discriminator: nn.Module, source: torch.Tensor, source_lengths: torch.Tensor | None,
              target: torch.Tensor, target_lengths: torch.Tensor | None, coefficient: float = 1.0) -> AdversarialLoss:
    """The domain-adversarial loss of DANN (Ganin et al. 2016).

    The features pass through gradient reversal before the discriminator, so minimising this
    loss trains the discriminator to separate the domains and the encoder (scaled by
    ``coefficient``) to confuse it.

    Args:
        discriminator: maps ``(B, T, D)`` with ``(B,)`` lengths, or ``(N, D)`` rows, to logits
            (e.g. :class:`asrlab.adapt.discriminator.DomainDiscriminator`; padding never counts).
        source: ``(B_s, T_s, D)`` encoder outputs, or ``(N, D)`` rows with ``source_lengths`` None.
        source_lengths: ``(B_s,)`` valid frames, or None for rows.
        target: ``(B_t, T_t, D)`` or ``(M, D)``, as ``source``.
        target_lengths: ``(B_t,)`` or None.
        coefficient: the gradient-reversal scale.

    Returns:
        An :class:`AdversarialLoss` with the :func:`domain_bce` loss and both domains' logits.
    """
    source_logits = discriminator(reverse_gradient(source, coefficient), source_lengths)
    target_logits = discriminator(reverse_gradient(target, coefficient), target_lengths)
    return AdversarialLoss(domain_bce(source_logits, target_logits), source_logits, target_logits)


__all__ = ["DEFAULT_MULTIPLIERS", "AdversarialLoss", "coral", "covariance", "dann_loss", "domain_bce",
           "gaussian_mmd", "median_bandwidth", "squared_distances"]
