"""Settings objects: the configs that moved into asrlab.config (and stay importable from their old
modules) and their smoke variants."""
from __future__ import annotations

import pytest

from asrlab import config
from asrlab.config import AlignmentConfig, ProbeConfig, from_dict


def test_moved_configs_are_the_same_classes_under_their_old_names():
    import asrlab.adapt
    import asrlab.adapt.training
    import asrlab.probes
    import asrlab.recipes
    from asrlab.adapt import discriminator, losses, selection

    assert asrlab.adapt.AlignmentConfig is asrlab.adapt.training.AlignmentConfig is AlignmentConfig
    assert asrlab.probes.ProbeConfig is ProbeConfig
    assert asrlab.adapt.training.METHODS == config.ALIGNMENT_METHODS == ("mmd", "coral", "dann")
    assert discriminator.POOLINGS == config.POOLINGS and losses.DEFAULT_MULTIPLIERS == config.DEFAULT_MULTIPLIERS
    assert selection.RULES == config.SELECTION_RULES
    assert asrlab.recipes.PRESETS is config.TRAIN_PRESETS


def test_alignment_config_smoke_variant_is_cheaper_and_still_valid():
    full = AlignmentConfig(method="dann", weight=0.3, layer=-2)
    smoke = full.smoke()
    assert (smoke.method, smoke.weight, smoke.layer) == ("dann", 0.3, -2)           # what is aligned stays
    assert smoke.max_frames < full.max_frames and smoke.disc_hidden < full.disc_hidden
    assert from_dict(AlignmentConfig, smoke.to_dict()) == smoke
    assert AlignmentConfig(max_frames=8).smoke().max_frames == 8                      # never larger
    assert AlignmentConfig(schedule="constant").coefficient(0.3) == 1.0
    assert AlignmentConfig().coefficient(0.0) == 0.0


def test_probe_config_smoke_variant_is_shorter():
    full, smoke = ProbeConfig(), ProbeConfig().smoke()
    assert smoke.epochs < full.epochs and smoke.max_frames < full.max_frames
    assert (smoke.lr, smoke.seed) == (full.lr, full.seed)
    assert ProbeConfig(epochs=1).smoke().epochs == 1


def test_importing_config_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, asrlab.config; assert 'torch' not in sys.modules, 'asrlab.config imported torch'"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
