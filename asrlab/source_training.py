"""``asrlab pretrain``: train asrlab's source model and export it with a model card.

The source model is the starting point of every transfer-learning chapter: a conv + BiGRU CTC
model trained on the full source domain (clean speech, many voices, three synthesisers). One
command reproduces it; the recipe (corpus seed and size, model, training and batching settings)
is recorded in the card next to the measured error rates, the time it took and on what.
"""
from __future__ import annotations

import json
import os
import time
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from asrlab.config import LoaderConfig, FeatureConfig, ModelConfig, SpecAugmentConfig, TrainConfig
from asrlab.corpus.build import load_summary
from asrlab.corpus.domains import DOMAINS
from asrlab.datasets import make_dataset
from asrlab.errors import AsrlabError
from asrlab.evaluate import evaluate_manifests
from asrlab.files import check_writable, save_json, sha256_of
from asrlab.manifest import manifest_path
from asrlab.models import build_model, count_parameters, load_model, save_model
from asrlab.parallel import run_data_parallel
from asrlab.train import History, fit
from asrlab.utils import machine_description

SOURCE_MODEL_NAME = "asrlab-source"
#: The shipped source model's settings.
SOURCE_MODEL = ModelConfig(arch="ds2", hidden=192, num_layers=3, conv_channels=32, dropout=0.1)
SOURCE_TRAIN = TrainConfig(epochs=4, lr=2e-3, warmup_steps=150, checkpoint_every=25, early_stop_patience=3,
                           specaugment=SpecAugmentConfig(freq_masks=2, freq_width=10, time_masks=2, time_width=25),
                           seed=0)
SOURCE_DATA = LoaderConfig(max_seconds=80.0, max_batch_size=64, num_workers=0)


def evaluate_domains(model_path: str | os.PathLike, corpus: str | os.PathLike, split: str = "test") -> dict[str, Any]:
    """WER/CER of a model on every domain's ``split`` manifest found in ``corpus``."""
    manifests = [manifest_path(corpus, d, split) for d in DOMAINS]
    result = evaluate_manifests(model_path, [m for m in manifests if m.is_file()])
    return {name: r.as_dict() for name, r in result.domains.items()}


def check_not_shipped(export: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse an export into the package's ``pretrained/`` folder (the shipped models) unless
    ``overwrite``: ``--export asrlab/pretrained/...`` run from the repository root would replace
    the model every notebook starts from."""
    from asrlab.models.zoo import PRETRAINED_DIR

    target = Path(export).resolve()
    if not overwrite and target.is_relative_to(PRETRAINED_DIR.resolve()):
        raise AsrlabError(f"refusing to write {export}: it is inside the package's pretrained/ folder "
                          f"({PRETRAINED_DIR}), which holds the shipped models. Export elsewhere (--export "
                          "data/asrlab-source.pt), or pass --overwrite-shipped (overwrite_shipped=True) to "
                          "replace the shipped model.")


def pretrain(corpus: str | os.PathLike, run_dir: str | os.PathLike, export: str | os.PathLike,
             epochs: int | None = None, seed: int = 0, progress: bool = True,
             init: str | os.PathLike | None = None, lr: float | None = None,
             specaugment: bool = True, processes: int = 1, freq_warp: float = 0.0,
             overwrite_shipped: bool = False) -> dict[str, Any]:
    """Train the source model on ``corpus/source/train.jsonl`` and export it with its card.

    Args:
        corpus: a corpus folder built with ``asrlab corpus build --size full``.
        run_dir: checkpoints (a killed run resumes from here).
        export: the model file to write; the card goes beside it as ``.json`` and ``.md``.
        epochs: override the recipe's epochs.
        seed: training seed.
        init: continue from this model file (a second stage with a fresh learning-rate
            schedule); its card's stages are carried into the new card.
        lr: override the recipe's peak learning rate.
        specaugment: False trains without SpecAugment (e.g. a last stage that fits the data).
        freq_warp: with SpecAugment, also warp each utterance's mel axis by up to this fraction
            (vocal-tract-length perturbation, :func:`asrlab.features.warp_frequency`).
        processes: data-parallel CPU processes of one thread each (:mod:`asrlab.parallel`);
            2 trains about 1.4x faster than 1 on a 2-core machine. Each process takes batches of
            the recipe's size, so the effective batch grows with ``processes``.
        overwrite_shipped: allow ``export`` inside the package's ``pretrained/`` folder (replacing
            the shipped model); without it such an export is refused before training starts.

    Returns:
        The model card as a dict.

    Raises:
        OutputError: ``run_dir`` or ``export`` cannot be written (checked before training).
        AsrlabError: ``export`` is inside the package's ``pretrained/`` folder and
            ``overwrite_shipped`` is False.
    """
    check_not_shipped(export, overwrite_shipped)
    check_writable(run_dir, "the run folder (--run-dir)")
    check_writable(export, "the exported model (--export)", file=True)
    corpus = Path(corpus)
    train_config = replace(SOURCE_TRAIN, seed=seed, epochs=epochs or SOURCE_TRAIN.epochs, lr=lr or SOURCE_TRAIN.lr,
                           specaugment=replace(SOURCE_TRAIN.specaugment, freq_warp=freq_warp) if specaugment else None)
    previous: list[dict[str, Any]] = []
    if init is not None:
        old_card = Path(init).with_suffix(".json")
        if old_card.is_file():
            card_data = json.loads(old_card.read_text())
            previous = card_data.get("stages", []) + [{"recipe": card_data["recipe"], "training": card_data["training"]}]
    features = FeatureConfig(n_mels=SOURCE_MODEL.n_mels)
    started = time.perf_counter()
    history = History.from_dict(run_data_parallel(
        _train_source, (corpus, features, None if init is None else str(init), train_config, str(run_dir), progress),
        processes=processes))
    trained = load_model(Path(run_dir) / "model.pt", config=SOURCE_MODEL)
    model = trained.model
    summary = load_summary(corpus)
    export = Path(export)
    recipe = {
        "corpus": {"size": summary["size"], "seed": summary["seed"], "engines": summary.get("engines", {}),
                   "train_minutes": sum(s["minutes"] for s in summary["splits"]
                                        if s["domain"] == "source" and s["split"] == "train"),
                   "command": f"asrlab corpus build --out DIR --size {summary['size']} --seed {summary['seed']}"},
        "model": asdict(SOURCE_MODEL), "train": asdict(train_config), "data": asdict(SOURCE_DATA),
        "command": f"asrlab pretrain --corpus DIR --seed {seed}" + (f" --epochs {epochs}" if epochs else "")
                   + (f" --lr {lr}" if lr else "") + (" --init PREVIOUS_STAGE.pt" if init else "")
                   + ("" if specaugment else " --no-specaugment")
                   + (f" --freq-warp {freq_warp}" if freq_warp and specaugment else "")
                   + (f" --processes {processes}" if processes > 1 else ""),
        "processes": processes,
    }
    save_model(export, model, features, trained.vocab, meta={"name": SOURCE_MODEL_NAME, "recipe": recipe})
    card = {
        "name": SOURCE_MODEL_NAME,
        "architecture": f"DeepSpeech2-style: 2 conv layers (time stride 2) + {SOURCE_MODEL.num_layers} BiGRU "
                        f"layers ({SOURCE_MODEL.hidden} units per direction) + linear CTC head over 29 characters",
        "parameters": count_parameters(model),
        "file": export.name, "file_bytes": export.stat().st_size, "sha256": sha256_of(export),
        "recipe": recipe,
        "training": {"steps": len(history.steps), "best_dev_wer": history.best_dev_wer,
                     "best_step": history.best_step, "seconds": round(history.seconds, 1),
                     "wall_seconds_this_session": round(time.perf_counter() - started, 1),
                     "audio_seconds_per_second": round(history.audio_seconds_per_second, 1),
                     "resumed_from_step": history.resumed_from_step, "machine": machine_description(),
                     "dev_curve": history.evals},
        "stages": previous,
        "test": evaluate_domains(export, corpus, "test"),
        "smoke_test": smoke_test_rates(export),
    }
    write_card(export, card)
    return card


def _train_source(corpus: Path, features: FeatureConfig, init: str | None, config: TrainConfig, run_dir: str,
                  progress: bool) -> dict[str, Any]:
    """One training stage on ``source/train.jsonl`` (dev: ``source/dev.jsonl``); returns the history.

    Module-level so that :func:`asrlab.parallel.run_data_parallel` can run it in each process;
    rank 0 writes ``run_dir/model.pt`` (the best dev state).
    """
    train_set = make_dataset([manifest_path(corpus, "source", "train")], features)
    dev_set = make_dataset([manifest_path(corpus, "source", "dev")], features)
    torch.manual_seed(config.seed)
    model = load_model(init, config=SOURCE_MODEL).model if init is not None else build_model(SOURCE_MODEL)
    history = fit(model, train_set, config, data=SOURCE_DATA, dev=dev_set, out_dir=run_dir, progress=progress)
    return history.to_dict()


def smoke_test_rates(model_path: str | os.PathLike, seed: int = 0) -> dict[str, Any]:
    """WER/CER on the smoke-size source test set, rebuilt from scratch (the tests do the same)."""
    from asrlab.corpus.build import build_corpus

    with tempfile.TemporaryDirectory(prefix="asrlab-smoke-") as tmp:
        summary = build_corpus(tmp, "smoke", ["source"], seed=seed, progress=False)
        result = evaluate_manifests(model_path, [manifest_path(tmp, "source", "test")])
    return {**result.rates.as_dict(), "seed": seed, "engines": summary.engines}


def write_card(export: Path, card: dict[str, Any]) -> None:
    """Write the card as JSON (for code) and Markdown (for people) beside the model file."""
    save_json(export.with_suffix(".json"), card)
    t = card["training"]
    lines = [
        f"# Model card: {card['name']}", "",
        f"- Architecture: {card['architecture']}",
        f"- Parameters: {card['parameters']:,}",
        f"- File: `{card['file']}`, {card['file_bytes'] / 1e6:.1f} MB, sha256 `{card['sha256']}`",
        f"- Training data: the `source` domain of the offline corpus, {card['recipe']['corpus']['train_minutes']:.0f} "
        f"minutes (`{card['recipe']['corpus']['command']}`; engines: "
        f"{', '.join(k for k, v in card['recipe']['corpus']['engines'].items() if v)})",
        f"- Recipe: `{card['recipe']['command']}` (settings in the JSON card)",
        f"- Training: {t['steps']} steps, {t['seconds'] / 60:.0f} minutes at {t['audio_seconds_per_second']:.0f} "
        f"audio-s/s on {t['machine']['cpus']} CPU cores ({t['machine']['processor']}, torch {t['machine']['torch']})"
        + (f", GPU {t['machine']['gpu']}" if t['machine']['gpu'] else ""),
        f"- Best dev WER (source): {100 * (t['best_dev_wer'] or float('nan')):.1f}% at step {t['best_step']}",
        *[f"- Earlier stage {i + 1}: `{st['recipe']['command']}`, {st['training']['steps']} steps, "
          f"{st['training']['seconds'] / 60:.0f} minutes" for i, st in enumerate(card.get("stages", []))],
        "", "## Test error rates (greedy decoding)", "",
        "| domain | WER % | CER % | utterances |", "|---|---:|---:|---:|",
    ]
    for domain, r in card["test"].items():
        lines.append(f"| {domain} | {100 * r['wer']:.1f} | {100 * r['cer']:.1f} | {r['utterances']} |")
    if "smoke_test" in card:
        s = card["smoke_test"]
        lines += ["", f"On the smoke-size source test set (`asrlab corpus build --size smoke --seed 0`), "
                      f"which the tests rebuild: WER {100 * s['wer']:.1f}%, CER {100 * s['cer']:.1f}%."]
    lines += ["", "Intended use: the starting point for the course's transfer-learning experiments. "
                  "It has only heard synthetic speech; expect high error rates on real recordings."]
    export.with_suffix(".md").write_text("\n".join(lines) + "\n")
