"""The ``asrlab`` command: corpus building, training, evaluation, transcription, benchmarks,
notebooks."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence, get_args

from asrlab.config import (ALIGNMENT_METHODS, CORPUS_SIZES, EXPORT_FORMATS, NEW_ROWS, POOLINGS, QUANTIZATIONS,
                           REGIMES, SELECTION_RULES, TRAIN_PRESETS, AlignmentConfig, AuxiliaryConfig, RegimeConfig,
                           ReplayConfig)
from asrlab.errors import AsrlabError

# Each command's options are registered by a ``register_<command>(commands)`` function next to
# its handler ``_<command>(args)``; the choices come from asrlab.config, whose constants are the
# library's own (asrlab.finetune.REGIMES, asrlab.corpus.domains.SIZE_NAMES, asrlab.adapt's
# methods, poolings and selection rules...) and which imports no torch, so ``asrlab --help``
# stays fast.
Commands = argparse._SubParsersAction  # what add_subparsers() returns: a command's subcommands
Registrar = Callable[[Commands], None]  # adds one command (its options, its handler) to a parser


def command_group(name: str, help: str, *subcommands: Registrar) -> Registrar:
    """The registrar of a command that only groups subcommands (``asrlab <name> <subcommand>``).

    Args:
        name: the command's name.
        help: its line in ``asrlab --help``.
        subcommands: the registrars of its subcommands, in the order its help lists them.
    """
    def register(commands: Commands) -> None:
        group = commands.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)
        for register_subcommand in subcommands:
            register_subcommand(group)

    register.__name__ = register.__qualname__ = f"register_{name}"
    return register


# --------------------------------------------------------------------------- corpus
def _corpus_build(args: argparse.Namespace) -> int:
    from asrlab.corpus.build import build_corpus
    from asrlab.files import check_writable

    check_writable(args.out, "the corpus folder (--out)")
    if args.save:
        check_writable(args.save, "the build summary (--save)", file=True)
    summary = build_corpus(args.out, args.size, args.domains, args.seed, args.workers, progress=not args.quiet)
    if args.save:
        import os

        from asrlab.files import save_json

        save_json(args.save, {**summary.to_dict(), "utterances_per_second": summary.utterances_per_second,
                              "cpus": os.cpu_count()})
    print(summary.table())
    print(f"\nrendered {summary.rendered} utterances in {summary.seconds:.1f} s "
          f"({summary.utterances_per_second:.0f} utterances/s) into {args.out}")
    for domain, reason in summary.missing.items():
        print(f"left out {domain}: {reason}")
    return 0


def register_corpus_build(corpus: Commands) -> None:
    build = corpus.add_parser("build", help="synthesise the corpus: DIR/<domain>/<split>.jsonl")
    build.add_argument("--out", required=True, type=Path)
    build.add_argument("--size", choices=CORPUS_SIZES, default="smoke")
    build.add_argument("--domains", nargs="+", default=None,
                       help="default: every English domain; other languages only when named: spanish german")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--workers", type=int, default=None)
    build.add_argument("--quiet", action="store_true")
    build.add_argument("--save", type=Path, help="write the build summary as JSON here")
    build.set_defaults(func=_corpus_build)


def _corpus_stats(args: argparse.Namespace) -> int:
    from asrlab.corpus.build import CorpusSummary, SplitSummary, load_summary

    data = load_summary(args.dir)
    summary = CorpusSummary(data["out_dir"], data["size"], data["seed"],
                            [SplitSummary(**s) for s in data["splits"]])
    if args.json:
        print(json.dumps(data["splits"]))
    else:
        print(summary.table())
    return 0


def register_corpus_stats(corpus: Commands) -> None:
    stats = corpus.add_parser("stats", help="minutes per domain and split")
    stats.add_argument("dir", type=Path)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=_corpus_stats)


def _corpus_prepare(args: argparse.Namespace) -> int:
    from asrlab.corpus import loaders

    skip = {"on_invalid_text": "skip" if args.skip_bad else "error"}
    if args.corpus == "librispeech":
        paths = loaders.prepare_librispeech(args.root, args.out, subsets=args.subsets or ("dev-clean", "test-clean"),
                                            **skip)
        print("\n".join(str(p) for p in paths.values()))
    elif args.corpus == "librilight":
        print(loaders.prepare_librilight_limited(args.root, args.out, subset=args.subset, **skip))
    elif args.corpus == "mls":
        paths = loaders.prepare_mls(args.root, args.out, splits=args.splits or ("train", "dev", "test"),
                                    language=args.language, train_subset=None if args.subset == "all" else args.subset,
                                    **skip)
        print("\n".join(str(p) for p in paths.values()))
    else:
        print(loaders.prepare_cmu_arctic(args.root, args.out, speakers=args.speakers, **skip))
    return 0


def register_corpus_prepare(corpus: Commands) -> None:
    prepare = corpus.add_parser("prepare", help="convert a downloaded real corpus into manifests")
    prepare.add_argument("corpus", choices=("librispeech", "librilight", "arctic", "mls"))
    prepare.add_argument("--root", required=True, type=Path)
    prepare.add_argument("--out", required=True, type=Path)
    prepare.add_argument("--subsets", nargs="+", help="LibriSpeech subsets")
    prepare.add_argument("--subset", default="1h", choices=("10min", "1h", "10h", "all"),
                         help="Libri-light set; MLS: the limited-supervision training set ('all': the whole split)")
    prepare.add_argument("--splits", nargs="+", choices=("train", "dev", "test"), help="MLS splits (default: all three)")
    prepare.add_argument("--language", help="MLS language code (default: from the folder name, mls_spanish -> es)")
    prepare.add_argument("--speakers", nargs="+", help="CMU ARCTIC speakers")
    _add_skip_bad(prepare, "leave out utterances whose transcripts the vocabulary cannot encode, counted in a "
                  "warning (on_invalid_text='skip')")
    prepare.set_defaults(func=_corpus_prepare)


register_corpus = command_group(
    "corpus", "build or inspect the offline speech corpus",
    register_corpus_build, register_corpus_stats, register_corpus_prepare)


# --------------------------------------------------------------------------- train / eval
def _train(args: argparse.Namespace) -> int:
    from asrlab.recipes import train_recipe

    history, out = train_recipe(
        corpus=args.corpus, train=args.train, dev=args.dev, out_dir=args.out, arch=args.arch,
        preset=args.preset, epochs=args.epochs, lr=args.lr, seed=args.seed, progress=not args.quiet,
    )
    print(f"trained {len(history.steps)} steps in {history.seconds:.1f} s "
          f"({history.audio_seconds_per_second:.0f} audio-s/s); best dev WER "
          f"{(history.best_dev_wer or float('nan')) * 100:.1f}%; model: {out / 'model.pt'}")
    return 0


def register_train(commands: Commands) -> None:
    train = commands.add_parser("train", help="train a CTC model")
    train.add_argument("--corpus", type=Path, help="corpus dir: trains on source/train, dev on source/dev")
    train.add_argument("--train", type=Path, nargs="+", help="training manifests (instead of --corpus)")
    train.add_argument("--dev", type=Path, nargs="+", help="dev manifests")
    train.add_argument("--out", required=True, type=Path)
    train.add_argument("--arch", choices=("ds2", "conformer"), default="ds2")
    train.add_argument("--preset", choices=tuple(TRAIN_PRESETS), default="full")
    train.add_argument("--epochs", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=_train)


def _pretrain(args: argparse.Namespace) -> int:
    from asrlab.source_training import pretrain

    export = args.export if args.export is not None else args.run_dir / "asrlab-source.pt"
    card = pretrain(args.corpus, args.run_dir, export, epochs=args.epochs, seed=args.seed,
                    progress=not args.quiet, init=args.init, lr=args.lr, specaugment=not args.no_specaugment,
                    processes=args.processes, freq_warp=args.freq_warp, overwrite_shipped=args.overwrite_shipped)
    print(json.dumps({"sha256": card["sha256"], "test": card["test"]}, indent=1))
    return 0


def register_pretrain(commands: Commands) -> None:
    pretrain = commands.add_parser("pretrain", help="train asrlab's source model and export it with a model card")
    pretrain.add_argument("--corpus", required=True, type=Path, help="a corpus built with --size full")
    pretrain.add_argument("--run-dir", type=Path, default=Path("data/runs/pretrain-source"),
                          help="checkpoints; a killed run resumes from here")
    pretrain.add_argument("--export", type=Path, help="the model file to write, its card beside it (default: "
                          "RUN_DIR/asrlab-source.pt; the shipped model is replaced only with --overwrite-shipped)")
    pretrain.add_argument("--overwrite-shipped", action="store_true", help="allow --export to replace a model "
                          "shipped in the package's pretrained/ folder (refused otherwise)")
    pretrain.add_argument("--epochs", type=int)
    pretrain.add_argument("--lr", type=float)
    pretrain.add_argument("--init", type=Path, help="continue from this model (a second stage)")
    pretrain.add_argument("--no-specaugment", action="store_true", help="train without SpecAugment")
    pretrain.add_argument("--freq-warp", type=float, default=0.0,
                          help="vocal-tract-length perturbation: warp each utterance's mel axis by up to this "
                               "fraction (e.g. 0.1), so unseen voices are less of a surprise")
    pretrain.add_argument("--processes", type=int, default=1,
                          help="data-parallel CPU processes of one thread each (2 is ~1.4x faster on 2 cores)")
    pretrain.add_argument("--seed", type=int, default=0)
    pretrain.add_argument("--quiet", action="store_true")
    pretrain.set_defaults(func=_pretrain)


def _finetune(args: argparse.Namespace) -> int:
    if _is_whisper_base(args.init):
        return _finetune_whisper(args)
    from asrlab.finetune import finetune_manifests
    from asrlab.text import vocabulary_from_spec

    regime = RegimeConfig(args.regime, top_k=args.k, layer_decay=args.layer_decay,
                          l2sp_alpha=RegimeConfig().l2sp_alpha if args.l2sp_alpha is None else args.l2sp_alpha,
                          head_share=args.head_share,
                          bottleneck=args.bottleneck, rank=args.rank, train_head=args.train_head)
    vocab = vocabulary_from_spec(args.vocab) if args.vocab is not None else None
    auxiliary = AuxiliaryConfig(args.aux_label, args.aux_weight) if args.aux_label else None
    replay = ReplayConfig(args.replay_weight, args.replay_per_batch or ReplayConfig().batch_size)
    result = finetune_manifests(args.init, args.train, regime, args.out, dev=args.dev, epochs=args.epochs,
                                lr=args.lr or 1e-3, seed=args.seed, progress=not args.quiet, vocab=vocab,
                                copy_shared=args.keep_shared_rows, init_new=args.new_rows, auxiliary=auxiliary,
                                replay=args.replay, replay_config=replay)
    best = result.history.best_dev_wer
    saved = args.out / "model.pt"
    print(f"{args.regime}: {result.trainable_parameters:,} of {result.total_parameters:,} parameters trained, "
          f"{len(result.history.steps)} steps in {result.seconds:.1f} s"
          + (f", best dev WER {100 * best:.1f}%" if best is not None else "")
          + (f", {args.aux_label} accuracy on dev {100 * result.aux_dev_accuracy:.1f}%"
             if result.aux_dev_accuracy is not None else "")
          + f", {len(result.vocab)} output symbols; model: {saved}"
          + (f" ({saved.stat().st_size / 1e3:.0f} kB)" if saved.is_file() else ""))
    return 0


def _is_whisper_base(init: str) -> bool:
    """Whether ``--init`` names a Whisper that decodes with its own decoder (fine-tuned end to end)."""
    from asrlab.models.zoo import get_entry, list_pretrained

    return init in {e.name for e in list_pretrained()} and get_entry(init).kind == "zero-shot"


def _finetune_whisper(args: argparse.Namespace) -> int:
    from asrlab.whisper_finetune import finetune_whisper_manifests, regime_config

    unsupported = [flag for flag, value in (("--vocab", args.vocab), ("--aux-label", args.aux_label)) if value]
    if unsupported:
        raise AsrlabError(f"{' and '.join(unsupported)} apply to CTC models; {args.init} decodes with its own "
                          "tokenizer (fine-tune its CTC variant, e.g. whisper-tiny.en-ctc)")
    config = regime_config(args.regime, k=args.k, l2sp_alpha=args.l2sp_alpha if args.l2sp_alpha is not None else 1.0,
                           lr=args.lr or 1e-4, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                           replay=(args.replay_per_batch or 2) if args.replay else 0)
    result = finetune_whisper_manifests(args.init, args.train, args.out, config, source=args.replay,
                                        progress=not args.quiet)
    print(f"{args.init} {args.regime}: {result.trainable_parameters:,} of {result.total_parameters:,} parameters "
          f"trained, {config.steps} steps in {result.seconds:.1f} s, loss {result.losses[0]:.2f} -> "
          f"{result.losses[-1]:.2f}; model (the weights that changed): {result.meta['path']}")
    return 0


def register_finetune(commands: Commands) -> None:
    regime = RegimeConfig()
    finetune = commands.add_parser(
        "finetune", help="fine-tune a pretrained model on a target domain",
        description="CTC models train with asrlab's CTC loss; --init whisper-tiny.en fine-tunes Whisper end to end "
                    "(its decoder and tokenizer): regimes head (the decoder only), top-k (the decoder and the top k "
                    "encoder blocks), full, l2sp. The adapter and lora regimes freeze the base model, train "
                    "what they add (bottleneck adapters, low-rank weight changes) and save only that, with the "
                    "base's name and weights digest.")
    finetune.add_argument("--init", required=True, help="model file, run folder or pretrained name")
    finetune.add_argument("--train", required=True, type=Path, nargs="+")
    finetune.add_argument("--dev", type=Path, nargs="+")
    finetune.add_argument("--regime", required=True, choices=REGIMES)
    finetune.add_argument("--out", required=True, type=Path)
    finetune.add_argument("--epochs", type=int, default=10)
    finetune.add_argument("--lr", type=float, default=None, help="peak learning rate (default 1e-3; Whisper 1e-4)")
    finetune.add_argument("--k", type=int, default=regime.top_k, help="blocks trained by top-k")
    finetune.add_argument("--layer-decay", type=float, default=regime.layer_decay,
                          help="learning-rate factor per block (layerwise)")
    finetune.add_argument("--l2sp-alpha", type=float, default=None,
                          help=f"pull towards the pretrained weights (l2sp; default {regime.l2sp_alpha:g}, Whisper 1)")
    finetune.add_argument("--head-share", type=float, default=regime.head_share,
                          help="share of the epochs that train the head only (head-then-full)")
    finetune.add_argument("--vocab", metavar="LANGUAGE_OR_FILE",
                          help="fine-tune into another alphabet: a language code (es, de...: English symbols, then the "
                               "language's letters) or a file with one symbol a line (<space> for the space; the "
                               "blank <blank> first or left out, then added); default: the model's own")
    finetune.add_argument("--keep-shared-rows", action=argparse.BooleanOptionalAction, default=True,
                          help="with --vocab, copy the output rows of the symbols both alphabets share")
    finetune.add_argument("--new-rows", choices=NEW_ROWS, default=NEW_ROWS[0],
                          help="with --vocab, how new letters' output rows start (base_letter: ñ from n)")
    finetune.add_argument("--aux-label", metavar="FIELD",
                          help="multi-task: also predict this manifest field per utterance (speaker, accent, domain)")
    finetune.add_argument("--aux-weight", type=float, default=AuxiliaryConfig().weight,
                          help="multi-task: mu in CTC + mu * cross-entropy")
    finetune.add_argument("--bottleneck", type=int, default=regime.bottleneck,
                          help="adapter: inner size of the adapter after each encoder layer")
    finetune.add_argument("--rank", type=int, default=regime.rank, help="lora: rank of the low-rank weight changes")
    finetune.add_argument("--train-head", action="store_true",
                          help="adapter, lora: the output layer trains too (model.pt then stores it)")
    finetune.add_argument("--steps", type=int, default=120, help="Whisper: optimiser steps")
    finetune.add_argument("--batch-size", type=int, default=8, help="Whisper: target utterances per step")
    finetune.add_argument("--replay", type=Path, nargs="+",
                          help="source manifests replayed while fine-tuning, against forgetting")
    finetune.add_argument("--replay-weight", type=float, default=ReplayConfig().weight,
                          help="CTC models: rho in CTC_target + rho * CTC_source")
    finetune.add_argument("--replay-per-batch", type=int, default=None,
                          help=f"source utterances per batch (default {ReplayConfig().batch_size}; Whisper 2)")
    finetune.add_argument("--seed", type=int, default=0)
    finetune.add_argument("--quiet", action="store_true")
    finetune.set_defaults(func=_finetune)


def _adapt(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from asrlab.adapt.search import adapt_search
    from asrlab.config import TrainConfig

    train_config = replace(TrainConfig(), epochs=args.epochs, lr=args.lr, seed=args.seed, warmup_steps=50)
    result = adapt_search(args.init, args.source, args.target, args.method, args.out,
                          weights=None if args.weight is None else [args.weight],
                          layers=None if args.layer is None else [args.layer], rule=args.select,
                          source_dev=args.source_dev, train_config=train_config,
                          base=AlignmentConfig(pooling=args.pooling), progress=not args.quiet)
    for c in result.candidates:
        print(f"{c.name}: " + "  ".join(f"{k} {v:.4g}" for k, v in c.scores.items()))
    print(f"chosen by {args.select} (no target labels): {result.chosen.name}; model: {args.out / 'model.pt'}; "
          f"record: {args.out / 'adapt.json'}")
    return 0


def register_adapt(commands: Commands) -> None:
    adapt = commands.add_parser("adapt", help="unsupervised domain adaptation (MMD, CORAL, DANN) on unlabelled "
                                "target audio")
    adapt.add_argument("--method", required=True, choices=ALIGNMENT_METHODS)
    adapt.add_argument("--init", required=True, help="model file, run folder or pretrained name")
    adapt.add_argument("--source", required=True, type=Path, nargs="+", help="labelled source manifests")
    adapt.add_argument("--target", required=True, type=Path, nargs="+", help="target manifests (text ignored)")
    adapt.add_argument("--source-dev", type=Path, nargs="+", help="labelled source dev manifests "
                       "(default: every 10th source utterance is held out)")
    adapt.add_argument("--out", required=True, type=Path)
    adapt.add_argument("--lambda", dest="weight", type=float, help="alignment weight (default: a small grid)")
    adapt.add_argument("--layer", type=int, help="encoder layer to align, -1 the last (default: a small grid)")
    adapt.add_argument("--pooling", choices=POOLINGS, default=AlignmentConfig().pooling)
    adapt.add_argument("--select", choices=tuple(SELECTION_RULES), default="source-dev",
                       help="label-free rule that picks among the grid's candidates")
    adapt.add_argument("--epochs", type=int, default=5)
    adapt.add_argument("--lr", type=float, default=1e-3)
    adapt.add_argument("--seed", type=int, default=0)
    adapt.add_argument("--quiet", action="store_true")
    adapt.set_defaults(func=_adapt)


def _manifests(args: argparse.Namespace) -> list[Path]:
    if args.manifest:
        return [Path(m) for m in args.manifest]
    if args.corpus:
        from asrlab.corpus.domains import DOMAINS
        from asrlab.manifest import manifest_path

        found = [manifest_path(args.corpus, d, args.split) for d in DOMAINS]
        found = [p for p in found if p.is_file()]
        if not found:
            raise AsrlabError(f"no {args.split}.jsonl manifests under {args.corpus}: build the corpus first")
        return found
    raise AsrlabError("give --manifest FILE or --corpus DIR")


def _eval(args: argparse.Namespace) -> int:
    from asrlab.evaluate import evaluate_manifests
    from asrlab.metrics import format_table

    unsaved = _check_save(args.save, "the result (--save)")
    result = evaluate_manifests(args.model, _manifests(args), decoder=_decoder(args),
                                on_bad="skip" if args.skip_bad else "error")
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(format_table(result.domains))
        print(f"\nall: WER {100 * result.rates.wer:.1f}%  CER {100 * result.rates.cer:.1f}%  "
              f"utterances {result.rates.utterances}  real-time factor {result.real_time_factor:.4f}")
    _save_printed(args.save, "the result (--save)", unsaved,
                  {**result.as_dict(), "decoder": _decoder_settings(args), "command": "asrlab " + " ".join(sys.argv[1:])})
    return 0


def _check_save(path: Path | None, what: str) -> Exception | None:
    """For a command that prints its result and also saves it: check ``path`` before the work.

    A result that is printed is not lost when it cannot be saved, so the problem is announced
    on stderr at once and returned, for :func:`_save_printed` to raise after the result is printed.
    """
    if path is None:
        return None
    from asrlab.errors import OutputError
    from asrlab.files import check_writable

    try:
        check_writable(path, what, file=True)
    except OutputError as error:
        print(f"asrlab: warning: {error}; the result will be printed but not saved", file=sys.stderr)
        return error
    return None


def _save_printed(path: Path | None, what: str, unsaved: Exception | None, data: dict) -> None:
    """Save a printed result as JSON, or raise the problem :func:`_check_save` found (or a new one)."""
    if path is None:
        return
    if unsaved is not None:
        raise unsaved
    from asrlab.files import save_json, unwritable

    try:
        save_json(path, data)
    except OSError as error:
        raise unwritable(path, what, error) from error


def register_eval(commands: Commands) -> None:
    evaluate = commands.add_parser("eval", help="WER/CER of a model on manifests")
    evaluate.add_argument("--model", required=True, help="model file, run folder or model name")
    evaluate.add_argument("--manifest", nargs="+", help="manifest files")
    evaluate.add_argument("--corpus", type=Path, help="evaluate every domain's --split manifest")
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--save", type=Path, help="also write the result as JSON here")
    _add_skip_bad(evaluate, "leave out bad manifest lines (missing or unreadable audio, a text that does not fit), "
                  "counted in a warning (on_bad='skip')")
    _add_decoder_flags(evaluate)
    evaluate.set_defaults(func=_eval)


def _transcribe(args: argparse.Namespace) -> int:
    from asrlab.recipes import transcribe_each

    bad = 0
    for result in transcribe_each(args.model, args.audio, decoder=_decoder(args)):  # printed as each is done
        if result.error is None:
            print(f"{result.path}\t{result.text}", flush=True)
        else:
            bad += 1
            print(f"asrlab: {'skipped' if args.skip_bad else 'error'}: {result.error}", file=sys.stderr, flush=True)
    if bad and not args.skip_bad:
        print(f"asrlab: error: {bad} of {len(args.audio)} files could not be transcribed (--skip-bad to exit 0 "
              "anyway)", file=sys.stderr)
        return 1
    return 0


def _add_skip_bad(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--skip-bad", action="store_true", help=help)


def register_transcribe(commands: Commands) -> None:
    transcribe = commands.add_parser("transcribe", help="print the transcript of audio files")
    transcribe.add_argument("--model", required=True, help="model file, run folder, pretrained name, or a file "
                            "written by `asrlab export` (.onnx, TorchScript .pt)")
    transcribe.add_argument("audio", nargs="+", type=Path)
    _add_skip_bad(transcribe, "report unreadable files and exit 0 (without it they are reported, the others "
                  "transcribed, and the exit status is 1)")
    _add_decoder_flags(transcribe)
    transcribe.set_defaults(func=_transcribe)


def _decoder_settings(args: argparse.Namespace) -> dict:
    return {"kind": args.decoder, "beam_size": args.beam_size, "lm_path": args.lm, "lm_weight": args.lm_weight,
            "word_score": args.word_score, "lexicon": args.lexicon}


def _decoder(args: argparse.Namespace):
    """None for plain greedy decoding (the unchanged default), else a decoder from the flags, over
    the vocabulary of ``--model`` (a model fine-tuned into another alphabet has its own)."""
    if args.decoder == "greedy" and args.lm is None and args.lexicon is None:
        return None
    from asrlab.decoding import make_decoder

    return make_decoder(**_decoder_settings(args), backend=args.backend, vocab=_model_vocab(args.model))


def _model_vocab(model: str):
    """The vocabulary stored in an asrlab model file or run folder; asrlab's English one for
    anything else (pretrained names, Whisper folders)."""
    from asrlab.errors import CheckpointError
    from asrlab.models.checkpoint import read_checkpoint
    from asrlab.text import CharVocabulary

    if Path(model).exists():
        try:
            return CharVocabulary(tuple(read_checkpoint(model)["vocab"]))
        except CheckpointError:
            pass
    return CharVocabulary()


def _add_decoder_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--decoder", choices=("greedy", "beam"), default="greedy")
    parser.add_argument("--beam-size", type=int, default=16)
    parser.add_argument("--lm", help="ARPA n-gram model for shallow fusion (asrlab lm build); beam only")
    parser.add_argument("--lm-weight", type=float, default=0.5, help="weight of the natural-log LM probability")
    parser.add_argument("--word-score", type=float, default=0.0, help="score added per word")
    parser.add_argument("--lexicon", help="allowed words, one per line (default with a word LM: its words)")
    parser.add_argument("--backend", choices=("auto", "flashlight", "python"), default="auto",
                        help="beam search: torchaudio's ctc_decoder (flashlight-text) or asrlab's Python one")


# --------------------------------------------------------------------------- export
def _export(args: argparse.Namespace) -> int:
    from asrlab.deploy.export import export_model
    from asrlab.deploy.measure import file_size_mb
    from asrlab.files import check_writable

    check_writable(args.out, "the exported model (--out)", file=True)
    path = export_model(args.model, args.out, args.format, args.quantize)
    print(f"{path}: {args.format}{'' if args.quantize == 'none' else ' ' + args.quantize}, {file_size_mb(path):.2f} MB; "
          f"input: a 16 kHz mono waveform, output: CTC log-probabilities; transcribe with "
          f"`asrlab transcribe --model {path} FILE.wav`")
    return 0


def register_export(commands: Commands) -> None:
    export = commands.add_parser(
        "export", help="write a CTC model with its feature front end and vocabulary to one ONNX or TorchScript file",
        description="The file turns a 16 kHz waveform into CTC log-probabilities and carries its vocabulary: "
                    "`asrlab transcribe --model FILE` and asrlab/deploy/standalone_onnx.py (onnxruntime, numpy "
                    "and soundfile only) transcribe with it.")
    export.add_argument("--model", required=True, help="model file, run folder or pretrained name")
    export.add_argument("--format", choices=EXPORT_FORMATS, default="onnx")
    export.add_argument("--quantize", choices=QUANTIZATIONS, default="none",
                        help="int8: dynamic int8 quantisation; fp16: float16 weights (ONNX only)")
    export.add_argument("--out", required=True, type=Path, help="the file to write (.onnx, or .pt for TorchScript)")
    export.set_defaults(func=_export)


# --------------------------------------------------------------------------- language models
def _lm_build(args: argparse.Namespace) -> int:
    from asrlab.files import check_writable
    from asrlab.lm import build_lm, read_texts

    check_writable(args.out, "the language model (--out)", file=True)
    texts = read_texts(args.text)
    lm = build_lm(texts, level=args.level, order=args.order, smoothing=args.smoothing)
    lm.write_arpa(args.out)
    print(f"{args.out}: {args.level}-level order-{lm.order} {args.smoothing} model from {len(texts)} sentences; "
          f"n-grams per order {lm.counts()}; training perplexity {lm.perplexity(texts):.2f}")
    return 0


def register_lm_build(lm: Commands) -> None:
    from asrlab.lm.ngram import Smoothing
    from asrlab.lm.tokens import Level

    lm_build = lm.add_parser("build", help="estimate an ARPA n-gram model from text files or manifests")
    lm_build.add_argument("--text", required=True, nargs="+",
                          help="text files (a sentence per line) or .jsonl manifests (their text fields)")
    lm_build.add_argument("--level", choices=get_args(Level), default="word")
    lm_build.add_argument("--order", type=int, help="default: 3 for words, 6 for characters")
    lm_build.add_argument("--smoothing", choices=get_args(Smoothing), default="kn",
                          help="interpolated modified Kneser-Ney or Witten-Bell")
    lm_build.add_argument("--out", required=True, type=Path)
    lm_build.set_defaults(func=_lm_build)


def _lm_score(args: argparse.Namespace) -> int:
    from asrlab.lm import read_arpa, read_texts

    print(json.dumps(read_arpa(args.lm).evaluate(read_texts(args.text, allow_test=True))))
    return 0


def register_lm_score(lm: Commands) -> None:
    lm_score = lm.add_parser("score", help="log10 probability and perplexity of text")
    lm_score.add_argument("--lm", required=True)
    lm_score.add_argument("--text", required=True, nargs="+")
    lm_score.set_defaults(func=_lm_score)


def _lm_interpolate(args: argparse.Namespace) -> int:
    from asrlab.files import check_writable
    from asrlab.lm import choose_weight, interpolate, read_arpa, read_texts

    check_writable(args.out, "the language model (--out)", file=True)
    lm_a, lm_b = (read_arpa(p) for p in args.lm)
    weight = args.weight
    if weight is None:
        if not args.dev:
            raise ValueError("give --weight W or --dev TEXT to choose it on")
        weight, perplexity = choose_weight(lm_a, lm_b, read_texts(args.dev))
        print(f"weight of {args.lm[0]}: {weight:.3f} (dev perplexity {perplexity:.2f})")
    interpolate(lm_a, lm_b, weight).write_arpa(args.out)
    print(f"wrote {args.out}")
    return 0


def register_lm_interpolate(lm: Commands) -> None:
    lm_mix = lm.add_parser("interpolate", help="mix two models into one ARPA file")
    lm_mix.add_argument("--lm", required=True, nargs=2, help="two ARPA files A B")
    lm_mix.add_argument("--weight", type=float, help="weight of A (default: chosen on --dev)")
    lm_mix.add_argument("--dev", nargs="+", help="dev text or manifests to choose the weight by perplexity")
    lm_mix.add_argument("--out", required=True, type=Path)
    lm_mix.set_defaults(func=_lm_interpolate)


def _lm_tune(args: argparse.Namespace) -> int:
    from asrlab.decoding.tune import tune_decoder
    from asrlab.files import check_writable, save_json

    check_writable(args.out, "the grid (--out)", file=True)
    result = tune_decoder(args.model, args.dev, args.lm, lm_weights=args.lm_weights, word_scores=args.word_scores,
                          beam_size=args.beam_size, lexicon=args.lexicon, backend=args.backend, limit=args.limit)
    result["command"] = "asrlab " + " ".join(sys.argv[1:])
    save_json(args.out, result)
    best, greedy = result["best"], result["greedy"]
    print(f"best on {result['utterances']} dev utterances: --lm-weight {best['lm_weight']} --word-score "
          f"{best['word_score']}: WER {100 * best['wer']:.1f}% (greedy {100 * greedy['wer']:.1f}%); {args.out}")
    return 0


def register_lm_tune(lm: Commands) -> None:
    lm_tune = lm.add_parser("tune", help="grid-search LM weight and word score on a DEV set")
    lm_tune.add_argument("--model", required=True)
    lm_tune.add_argument("--dev", required=True, nargs="+", type=Path, help="dev manifests (test ones are refused)")
    lm_tune.add_argument("--lm", required=True)
    lm_tune.add_argument("--lm-weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0])
    lm_tune.add_argument("--word-scores", type=float, nargs="+", default=[-1.0, 0.0, 1.0, 2.0])
    lm_tune.add_argument("--beam-size", type=int, default=16)
    lm_tune.add_argument("--lexicon")
    lm_tune.add_argument("--backend", choices=("auto", "flashlight", "python"), default="auto")
    lm_tune.add_argument("--limit", type=int, help="first N utterances of each manifest")
    lm_tune.add_argument("--out", required=True, type=Path, help="the grid and the best point, as JSON")
    lm_tune.set_defaults(func=_lm_tune)


register_lm = command_group(
    "lm", "n-gram language models for beam-search decoding",
    register_lm_build, register_lm_score, register_lm_interpolate, register_lm_tune)


# --------------------------------------------------------------------------- benchmarks, report, pretrained models
def _bench(args: argparse.Namespace) -> int:
    from asrlab.bench import run_bench
    from asrlab.files import check_writable

    if args.save:
        check_writable(args.save, "the measurement (--save)", file=True)
    result = run_bench(quick=args.quick, progress=not args.json)
    if args.save:
        from asrlab.files import save_json

        save_json(args.save, result)
    print(json.dumps(result, indent=None if args.json else 1))
    return 0


def register_bench(commands: Commands) -> None:
    bench = commands.add_parser("bench", help="measure synthesis, training and inference speed here")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--quick", action="store_true", help="a smaller, faster measurement")
    bench.add_argument("--save", type=Path, help="also write the result as JSON here")
    bench.set_defaults(func=_bench)


def _report(args: argparse.Namespace) -> int:
    from asrlab.course.report import update_readme

    written = update_readme(args.readme, args.results)
    print(f"updated sections: {', '.join(written) or 'none'}")
    return 0


def register_report(commands: Commands) -> None:
    report = commands.add_parser("report", help="rewrite the README's generated tables from results/*.json")
    report.add_argument("--readme", type=Path, default=Path("README.md"))
    report.add_argument("--results", type=Path, default=Path("results"))
    report.set_defaults(func=_report)


def _pretrained_list(args: argparse.Namespace) -> int:
    from asrlab.models.zoo import format_list

    print(format_list())
    return 0


def register_pretrained_list(pretrained: Commands) -> None:
    plist = pretrained.add_parser("list", help="what exists, what is available offline here, size, licence")
    plist.set_defaults(func=_pretrained_list)


def _pretrained_table(args: argparse.Namespace) -> int:
    from asrlab.recipes import domain_gap_table

    unsaved = _check_save(args.save, "the table (--save)")
    table = domain_gap_table(args.corpus, args.models, args.split, None if args.limit == 0 else args.limit)
    table["command"] = "asrlab " + " ".join(sys.argv[1:])
    from asrlab.course.report import render_domain_gap

    print(render_domain_gap(table))
    _save_printed(args.save, "the table (--save)", unsaved, table)
    return 0


def register_pretrained_table(pretrained: Commands) -> None:
    ptable = pretrained.add_parser("table", help="every available model on every domain: the domain-gap table")
    ptable.add_argument("--corpus", required=True, type=Path)
    ptable.add_argument("--models", nargs="+", help="default: every available model with a trained head")
    ptable.add_argument("--split", default="test")
    ptable.add_argument("--limit", type=int, default=60, help="utterances per domain (0: all)")
    ptable.add_argument("--save", type=Path, help="write the table as JSON here")
    ptable.set_defaults(func=_pretrained_table)


register_pretrained = command_group(
    "pretrained", "the pretrained models",
    register_pretrained_list, register_pretrained_table)


# --------------------------------------------------------------------------- notebooks
def _notebooks_run(args: argparse.Namespace) -> int:
    from asrlab.course.runner import record_runs, run_notebooks
    from asrlab.utils import course_size

    size = "smoke" if args.smoke else (args.size or course_size())
    print(f"running notebooks at {size} size; executed copies in {args.out}")
    if args.repeat > 1:
        return _notebooks_stress(args, size)

    def finished(run) -> None:
        print(f"{run.name}: ok in {run.seconds:.1f} s; run log {record_runs([run], size).name}", flush=True)

    runs = run_notebooks(args.names, args.out, size, args.timeout, folder=args.folder, report=finished)
    print(f"{len(runs)} notebooks in {sum(r.seconds for r in runs):.1f} s")
    return 0


def _notebooks_stress(args: argparse.Namespace, size: str) -> int:
    import statistics

    from asrlab.course.runner import stress_notebooks

    def finished(name: str, run: int, outcome: str) -> None:
        print(f"{name} run {run}/{args.repeat}: {outcome}", flush=True)

    results = stress_notebooks(args.names, args.repeat, args.out, size, args.timeout, args.folder, report=finished)
    print("\n| notebook | runs | passed | failed | median s | max s |\n|---|---:|---:|---:|---:|---:|")
    for r in results:
        times = r.seconds or (float("nan"),)
        print(f"| {r.name} | {r.runs} | {len(r.seconds)} | {len(r.failures)} | {statistics.median(times):.1f} | "
              f"{max(times):.1f} |")
    failed = sum(len(r.failures) for r in results)
    if failed:
        print(f"asrlab: error: {failed} of {sum(r.runs for r in results)} runs failed", file=sys.stderr)
    return 1 if failed else 0


def register_notebooks_run(notebooks: Commands) -> None:
    nbrun = notebooks.add_parser("run", help="execute the notebooks headless, in order, timing each")
    nbrun.add_argument("names", nargs="*", help="notebooks to run (01, 01_data_prep...); default: all")
    nbrun.add_argument("--size", choices=CORPUS_SIZES, default=None,
                       help="smoke (CI, about a minute each), lab (a learner's size, at most 10 minutes each on "
                            "2 CPU cores) or full (the README's tables); default: ASRLAB_SIZE, else lab")
    nbrun.add_argument("--smoke", action="store_true", help="the same as --size smoke")
    nbrun.add_argument("--out", type=Path, default=Path("data/notebooks"), help="where executed copies go")
    nbrun.add_argument("--timeout", type=int, default=None,
                       help="seconds one cell may take (default: 180 at smoke size, 900 at lab size, 3600 at full)")
    nbrun.add_argument("--folder", type=Path, default=None, help="the notebooks' folder (default: notebooks/)")
    nbrun.add_argument("--repeat", type=int, default=1,
                       help="run each notebook this many times in a row and count failures (a stress test)")
    nbrun.set_defaults(func=_notebooks_run)


register_notebooks = command_group(
    "notebooks", "the course notebooks",
    register_notebooks_run)


# --------------------------------------------------------------------------- parser
#: Every command, in the order ``asrlab --help`` lists them.
COMMANDS: tuple[Registrar, ...] = (
    register_corpus, register_train, register_pretrain, register_pretrained, register_finetune, register_adapt,
    register_eval, register_transcribe, register_lm, register_bench, register_notebooks, register_report,
    register_export,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``asrlab`` parser: every command of :data:`COMMANDS` registers its options."""
    parser = argparse.ArgumentParser(prog="asrlab", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)
    for register in COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``asrlab`` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return int(args.func(args) or 0)
    except (AsrlabError, FileNotFoundError, ValueError, FloatingPointError) as exc:  # a diverging run too
        print(f"asrlab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

