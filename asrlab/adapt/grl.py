"""Gradient reversal (Ganin & Lempitsky 2015) and the DANN schedule for its coefficient.

The reversal layer is the identity on the way forward and multiplies the gradient by
``-coefficient`` on the way back, so a discriminator placed after it learns to tell the domains
apart while the encoder before it learns to make them indistinguishable.

The coefficient is always explicit: :func:`reverse_gradient` takes it as an argument. Nothing
counts steps behind the caller's back (a hidden counter would also advance during evaluation).
"""
from __future__ import annotations

import math

import torch


class _ReverseGradient(torch.autograd.Function):
    """``y = x``; ``dL/dx = -coefficient * dL/dy``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, coefficient: float) -> torch.Tensor:  # type: ignore[override]
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad.neg() * ctx.coefficient, None


def reverse_gradient(x: torch.Tensor, coefficient: float = 1.0) -> torch.Tensor:
    """The identity forward; the gradient times ``-coefficient`` backward.

    Args:
        x: any tensor, e.g. encoder frames ``(B, T, D)``.
        coefficient: how strongly the reversed gradient reaches ``x`` (0 cuts it off).

    Returns:
        A tensor equal to ``x`` (same shape).
    """
    if not math.isfinite(coefficient) or coefficient < 0:
        raise ValueError(f"the reversal coefficient must be a finite number >= 0, got {coefficient}")
    return _ReverseGradient.apply(x, float(coefficient))


def dann_coefficient(progress: float, gamma: float = 10.0) -> float:
    """The DANN ramp ``2 / (1 + exp(-gamma * progress)) - 1``: 0 at the start, towards 1 at the end.

    Args:
        progress: fraction of training done, in [0, 1].
        gamma: steepness (10 in Ganin et al.).
    """
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must be in [0, 1], got {progress}")
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


__all__ = ["dann_coefficient", "reverse_gradient"]
