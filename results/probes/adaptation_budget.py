"""Probe: is the adaptation budget what holds MMD, CORAL and DANN back on graded noise?

Measured on the lab corpus's *dev* splits (never test), with the shipped source model, one thread:

    python results/probes/adaptation_budget.py labels noise-10db 1e-3 8
        fine-tune every weight on the true transcripts of the level's unlabelled split
        (the label-using reference), dev WER after each epoch
    python results/probes/adaptation_budget.py simulate noise-10db 2e-4 3 8
        the target's noise (from its unlabelled audio) mixed into 8 minutes of labelled source
        speech, every weight fine-tuned on that, dev WER after each epoch
    python results/probes/adaptation_budget.py align noise-10db mmd 1.0 -1 150 1e-3
        CTC on the labelled source train split + lambda * alignment with the level's unlabelled
        audio, for a number of optimiser steps (lambda 0: source-only), then target and source dev WER

Each run prints one JSON line; `adaptation_budget-lab.jsonl` holds the runs behind notebook 04's
"why so little moved" paragraph. Set ASRLAB_DATA to where the lab corpus is (default: data/).
"""
import json
import sys
import time
from dataclasses import replace

import asrlab  # noqa: F401  (before torch)
import torch

from asrlab.adapt.training import adapt_model
from asrlab.config import AlignmentConfig, LoaderConfig, TrainConfig
from asrlab.course import self_training as st
from asrlab.datasets import make_dataset, model_dataset
from asrlab.evaluate import evaluate
from asrlab.finetune import finetune
from asrlab.manifest import manifest_path
from asrlab.models.zoo import load_pretrained
from asrlab.utils import data_dir

BATCH = LoaderConfig(max_seconds=20.0, num_workers=0)


def labels(level: str, lr: float, epochs: int) -> dict:
    corpus = data_dir() / "corpus-lab"
    loaded = load_pretrained("asrlab-source")
    snr = float(level.removeprefix("noise-").removesuffix("db"))
    lvl = st.load_levels(corpus, (snr,), loaded)[0]
    config = replace(TrainConfig(), epochs=epochs, lr=lr, warmup_steps=10, seed=0, checkpoint_every=0, eval_every=0)
    started = time.time()
    result = finetune(loaded, model_dataset(lvl.unlabelled, loaded), "full", config, dev=lvl.dev, data=BATCH)
    return {"level": snr, "lr": lr, "epochs": epochs, "base_dev": round(evaluate(loaded.model, lvl.dev, BATCH).rates.wer, 3),
            "history": [(h["epoch"], round(h["dev_wer"], 3)) for h in result.history.evals],
            "seconds": round(time.time() - started)}


def simulate(level: str, lr: float, epochs: int, minutes: float) -> dict:
    import tempfile

    from asrlab.adapt.noise_simulation import estimate_noise, simulate_utterances
    from asrlab.audio import load_audio
    from asrlab.course.fine_tuning import take_minutes
    from asrlab.manifest import read_manifest

    corpus = data_dir() / "corpus-lab"
    loaded = load_pretrained("asrlab-source")
    snr = float(level.removeprefix("noise-").removesuffix("db"))
    lvl = st.load_levels(corpus, (snr,), loaded)[0]
    estimate = estimate_noise([load_audio(u.audio) for u in lvl.unlabelled], quantile=0.1)
    chosen = take_minutes(read_manifest(manifest_path(corpus, "source", "train")), minutes, 0)
    config = replace(TrainConfig(), epochs=epochs, lr=lr, warmup_steps=10, seed=0, checkpoint_every=0, eval_every=0)
    started = time.time()
    with tempfile.TemporaryDirectory() as out:
        simulated = simulate_utterances(chosen, estimate, out, domain=f"{level}-simulated", seed=0)
        result = finetune(loaded, model_dataset(simulated, loaded), "full", config, dev=lvl.dev, data=BATCH)
    return {"level": snr, "method": "source + target noise", "lr": lr, "epochs": epochs, "minutes": minutes,
            "base_dev": round(evaluate(loaded.model, lvl.dev, BATCH).rates.wer, 3),
            "history": [(h["epoch"], round(h["dev_wer"], 3)) for h in result.history.evals],
            "seconds": round(time.time() - started)}


def align(level: str, method: str, weight: float, layer: int, steps: int, lr: float) -> dict:
    corpus = data_dir() / "corpus-lab"
    loaded = load_pretrained("asrlab-source")

    def split(domain: str, name: str, labelled: bool = True):
        return make_dataset([manifest_path(corpus, domain, name)], loaded.features, loaded.vocab, labelled=labelled)

    source, target = split("source", "train"), split(level, "unlabelled", False)
    config = replace(TrainConfig(), epochs=100, max_steps=steps, lr=lr, warmup_steps=10, seed=0, checkpoint_every=0,
                     eval_every=0)
    started = time.time()
    result = adapt_model(loaded.model, source, target,
                         AlignmentConfig(method=method if weight > 0 else "mmd", weight=weight, layer=layer), config,
                         data=BATCH)
    return {"level": level, "method": method, "w": weight, "layer": layer, "steps": steps, "lr": lr,
            "target_dev": round(evaluate(result.model, split(level, "dev"), BATCH).rates.wer, 3),
            "source_dev": round(evaluate(result.model, split("source", "dev"), BATCH).rates.wer, 3),
            "seconds": round(time.time() - started)}


if __name__ == "__main__":
    torch.set_num_threads(1)
    kind, *args = sys.argv[1:]
    if kind == "labels":
        row = labels(args[0], float(args[1]), int(args[2]))
    elif kind == "simulate":
        row = simulate(args[0], float(args[1]), int(args[2]), float(args[3]))
    elif kind == "align":
        row = align(args[0], args[1], float(args[2]), int(args[3]), int(args[4]), float(args[5]))
    else:
        raise SystemExit(f"unknown probe {kind!r}: use 'labels', 'simulate' or 'align' (see the docstring)")
    print(json.dumps(row), flush=True)
