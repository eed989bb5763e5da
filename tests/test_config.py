"""Settings objects: the fine-tuning regime config, the configs that moved into asrlab.config (and
stay importable from their old modules) and their smoke variants."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from asrlab import config
from asrlab.config import REGIMES, AlignmentConfig, ProbeConfig, RegimeConfig, from_dict, regime_config


def test_regime_config_defaults_are_the_old_keyword_defaults():
    assert RegimeConfig() == RegimeConfig("full", top_k=2, layer_decay=0.5, l2sp_alpha=1e-2)
    assert all(RegimeConfig(name).name == name for name in REGIMES)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "everything"}, "unknown regime 'everything'; choose one of scratch, head, top-k"),
    ({"top_k": -1}, "top_k"), ({"top_k": 1.5}, "top_k"), ({"top_k": True}, "top_k"),
    ({"layer_decay": -0.1}, "layer_decay"), ({"layer_decay": math.nan}, "layer_decay"),
    ({"l2sp_alpha": -1.0}, "l2sp_alpha"), ({"l2sp_alpha": math.inf}, "l2sp_alpha"),
])
def test_regime_config_rejects_what_no_regime_can_do(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RegimeConfig(**kwargs)


def test_regime_config_from_a_name_or_a_config_with_keywords_replacing_settings():
    assert regime_config("top-k") == RegimeConfig("top-k")
    assert regime_config("top-k", top_k=1) == RegimeConfig("top-k", top_k=1)
    mine = RegimeConfig("l2sp", l2sp_alpha=5.0, layer_decay=0.3)
    assert regime_config(mine) is mine
    assert regime_config(mine, l2sp_alpha=1.0) == RegimeConfig("l2sp", l2sp_alpha=1.0, layer_decay=0.3)
    assert regime_config(mine, top_k=None, layer_decay=None, l2sp_alpha=None) == mine   # None keeps a setting
    with pytest.raises(ValueError, match="top_k"):
        regime_config("top-k", top_k=-2)


def test_moved_configs_are_the_same_classes_under_their_old_names():
    import asrlab.adapt
    import asrlab.adapt.training
    import asrlab.course.feature_extraction
    import asrlab.finetune
    import asrlab.recipes
    from asrlab.adapt import discriminator, losses, selection

    assert asrlab.adapt.AlignmentConfig is asrlab.adapt.training.AlignmentConfig is AlignmentConfig
    assert asrlab.course.feature_extraction.ProbeConfig is ProbeConfig
    assert asrlab.finetune.REGIMES is REGIMES and asrlab.finetune.RegimeConfig is RegimeConfig
    assert config.ALIGNMENT_METHODS == ("mmd", "coral", "dann")
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
    import os
    import subprocess
    import sys

    code = "import sys, asrlab.config; assert 'torch' not in sys.modules, 'asrlab.config imported torch'"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}   # this checkout's asrlab
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
