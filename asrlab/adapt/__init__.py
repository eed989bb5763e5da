"""Unsupervised domain adaptation for CTC models: MMD, deep CORAL and DANN.

The pieces, each usable on its own:

* :mod:`~asrlab.adapt.grl`: gradient reversal and the DANN coefficient schedule;
* :mod:`~asrlab.adapt.discriminator`: a padding-blind domain discriminator and pooling helpers;
* :mod:`~asrlab.adapt.losses`: multi-kernel MMD, CORAL, the domain-adversarial loss;
* :mod:`~asrlab.adapt.diagnostics`: discriminator accuracy, MMD, proxy A-distance (values only);
* :mod:`~asrlab.adapt.training`: the ``extra_loss`` for :func:`asrlab.train.fit` and adaptation runs;
* :mod:`~asrlab.adapt.selection`: label-free scores and choosing a model without target labels;
* :mod:`~asrlab.adapt.search`: the one search over (weight, layer), behind ``asrlab adapt`` and the
  course's comparisons.

A training step computes ``CTC(source) + lambda * alignment(source, target)``; only the loop in
:func:`asrlab.train.fit` knows about steps, and nothing here keeps state between calls.
"""
from __future__ import annotations

from asrlab.adapt.diagnostics import domain_accuracy, pooled_features, proxy_a_distance
from asrlab.adapt.discriminator import DomainDiscriminator, domain_inputs, encoder_layer, masked_mean, valid_frames
from asrlab.adapt.grl import dann_coefficient, reverse_gradient
from asrlab.adapt.losses import (AdversarialLoss, coral, dann_loss, domain_bce, gaussian_mmd, median_bandwidth,
                                 squared_distances)
from asrlab.adapt.search import SearchResult, adapt_search, grid_search
from asrlab.adapt.selection import RULES, Candidate, importance_weighted_risk, importance_weights, score_model, select
from asrlab.adapt.training import AdaptResult, AlignmentConfig, AlignmentLoss, adapt, adapt_model, build_alignment

__all__ = [
    "RULES", "AdaptResult", "AdversarialLoss", "AlignmentConfig", "AlignmentLoss", "Candidate", "DomainDiscriminator",
    "SearchResult", "adapt", "adapt_model", "adapt_search", "build_alignment", "coral", "dann_coefficient",
    "dann_loss", "domain_accuracy", "domain_bce", "domain_inputs", "encoder_layer", "gaussian_mmd", "grid_search",
    "importance_weighted_risk", "importance_weights", "masked_mean", "median_bandwidth", "pooled_features",
    "proxy_a_distance", "reverse_gradient", "score_model", "select", "squared_distances", "valid_frames",
]
