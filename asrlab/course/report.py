"""Write the README's generated sections from the results files under ``results/``.

A generated section sits between ``<!-- asrlab:NAME -->`` and ``<!-- /asrlab:NAME -->``;
``asrlab report`` rewrites every section whose results file exists and leaves the rest alone,
so each number in the README comes from a command that ran (named under each table).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable

from asrlab.course.runner import signed
from asrlab.course.scoreboard import render_scoreboard

RESULTS_DIR = "results"


def replace_section(text: str, name: str, content: str) -> str:
    """``text`` with the generated section ``name`` replaced by ``content``.

    Raises:
        KeyError: the README has no such section.
    """
    pattern = re.compile(rf"(<!-- asrlab:{re.escape(name)} -->\n)(?:.*?\n)?(<!-- /asrlab:{re.escape(name)} -->)", re.S)
    if not pattern.search(text):
        raise KeyError(f"no generated section {name!r} in the README")
    return pattern.sub(lambda m: m.group(1) + content.strip("\n") + "\n" + m.group(2), text, count=1)


def render_bench(data: dict[str, Any]) -> str:
    m = data["machine"]
    rate = "{:.1f} audio-s/s".format
    rows = [
        ("corpus synthesis (espeak-ng, end to end)", f"{data['synthesis_utterances_per_second']:.0f} utterances/s"),
        ("training, plain loop (shuffled padded batches of 8, features on the fly)",
         rate(data["train_naive_audio_seconds_per_second"])),
    ]
    if data.get("train_naive_spinning_threads_audio_seconds_per_second") is not None:
        rows.append(("the same plain loop in a process whose OpenMP threads spin",
                     rate(data["train_naive_spinning_threads_audio_seconds_per_second"])))
    rows.append(("training, `fit()` (length buckets, seconds budget, cached features)",
                 rate(data["train_fast_audio_seconds_per_second"])))
    if data.get("train_fast_data_parallel_audio_seconds_per_second") is not None:
        rows.append((f"training, `fit()` as {data['train_data_parallel_processes']} single-threaded data-parallel "
                     "processes", rate(data["train_fast_data_parallel_audio_seconds_per_second"])))
    rows.append(("training speed-up (fastest `fit()` over the plain loop)", f"{data['train_speedup']:.1f}x"))
    if data.get("train_speedup_vs_spinning_naive") is not None:
        rows.append(("training speed-up over the spinning plain loop", f"{data['train_speedup_vs_spinning_naive']:.1f}x"))
    rows.append(("inference real-time factor (greedy, batched)", f"{data['inference_real_time_factor']:.4f}"))
    lines = ["| measurement | value |", "|---|---:|", *[f"| {k} | {v} |" for k, v in rows]]
    lines.append(f"\nModel: {data['model_parameters'] / 1e6:.1f}M-parameter conv + BiGRU CTC model; machine: "
                 f"{m['cpus']} CPU cores ({m['processor']}), torch {m['torch']}. "
                 "Command: `asrlab bench --json --save results/bench.json`.")
    return "\n".join(lines)


def render_corpus_with_languages(found: dict[str, dict[str, Any]]) -> str:
    """The full corpus's table (``corpus-full.json``) with the target-language domains, which are
    built on demand (``corpus-full-languages.json``), as rows of the same table."""
    english, languages = found.get("english"), found.get("languages")
    if english is None:
        return render_corpus(languages or {"splits": []})
    text = render_corpus({**english, "splits": english["splits"] + (languages or {}).get("splits", [])})
    if languages:
        names = sorted({s["domain"] for s in languages["splits"]})
        text += (f"\nThe language domains ({', '.join(names)}) are built on demand (notebook 08, or "
                 f"`asrlab corpus build --out data/corpus-full --size full --domains {' '.join(names)} --save "
                 "results/corpus-full-languages.json`), espeak-ng only.")
    return text


def render_corpus(data: dict[str, Any]) -> str:
    splits = ("train", "unlabelled", "dev", "test")
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    languages: dict[str, str] = {}
    for s in data["splits"]:
        rows.setdefault(s["domain"], {})[s["split"]] = s
        languages[s["domain"]] = s.get("language", "en")
    multilingual = any(lang != "en" for lang in languages.values())  # a language column only then
    lines = ["| domain | " + "language | " * multilingual + " | ".join(f"{s} (min)" for s in splits)
             + " | utterances | speakers train/test |",
             "|---|" + "---|" * multilingual + "---:|" * (len(splits) + 2)]
    for domain, cells in rows.items():
        minutes = " | ".join(f"{cells[s]['minutes']:.1f}" if s in cells else "-" for s in splits)
        count = sum(c["utterances"] for c in cells.values())
        speakers = f"{cells.get('train', {}).get('speakers', '-')}/{cells.get('test', {}).get('speakers', '-')}"
        label = f"{domain} | {languages[domain]}" if multilingual else domain
        lines.append(f"| {label} | {minutes} | {count} | {speakers} |")
    rate = data.get("utterances_per_second")
    engines = ", ".join(k for k, v in data.get("engines", {}).items() if v)
    lines.append(f"\nBuilt with `asrlab corpus build --out data/corpus-full --size full --save "
                 f"results/corpus-full.json` (engines: {engines})" + (
                     f" at {rate:.0f} utterances/s end to end on {data.get('cpus', '?')} CPU cores, all engines "
                     "included (Piper and flite are far slower than espeak-ng; `asrlab bench` measures "
                     "espeak-ng alone)." if rate else "."))
    return "\n".join(lines)


def render_domain_table(data: dict[str, Any]) -> str:
    lines = ["| domain (test split) | WER % | CER % | utterances |", "|---|---:|---:|---:|"]
    for name, r in data["domains"].items():
        lines.append(f"| {name} | {100 * r['wer']:.1f} | {100 * r['cer']:.1f} | {r['utterances']} |")
    if "command" in data:
        lines.append(f"\nCommand: `{data['command']}`.")
    return "\n".join(lines)


def render_domain_gap(data: dict[str, Any]) -> str:
    """Models as rows, domains as columns, WER % (CER % in brackets)."""
    models = data["models"]
    domains: list[str] = []
    for rows in models.values():
        domains += [d for d in rows if not d.startswith("_") and d not in domains]
    lines = ["| model | " + " | ".join(domains) + " |", "|---|" + "---:|" * len(domains)]
    for name, rows in models.items():
        cells = [f"{100 * rows[d]['wer']:.1f} ({100 * rows[d]['cer']:.1f})" if d in rows else "-" for d in domains]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    limit = data.get("limit")
    lines.append(f"\nWER % (CER %) on the {data['split']} split"
                 + (f", first {limit} utterances of each domain" if limit else "") + ". Whisper's scores use "
                 "Whisper's English normaliser on references and hypotheses (it writes digits); the CTC models "
                 "are scored on asrlab's normalised text.")
    for name, why in data.get("unavailable", {}).items():
        lines.append(f"Not available offline here: {name} ({why}).")
    if "command" in data:
        lines.append(f"Command: `{data['command']}`.")
    return "\n".join(lines)


def _points(value: float | None) -> str:
    """A change of an error rate in percentage points (``+5.3``); ``n/a`` where it does not apply."""
    return "n/a" if value is None else signed(100 * value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def render_fine_tuning(data: dict[str, Any]) -> str:
    """Notebook 02's results: regimes, learning curve, Whisper."""
    lines = [f"Target domain `{data['target']}`, {data['train_minutes']:g} labelled minutes, "
             f"{data['budget_seconds']} audio-seconds of training per run.", "",
             "| regime | target WER % | target CER % | source WER % | forgetting (points) | trainable parameters "
             "| seconds |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in data["regimes"]:
        lines.append(f"| {r['regime']} | {_pct(r['target_wer'])} | {_pct(r['target_cer'])} | {_pct(r['source_wer'])} "
                     f"| {_points(r['forgetting'])} | {r['trainable_parameters']:,} | {r['seconds']:.0f} |")
    curve = data.get("learning_curve", [])
    if curve:
        minutes = sorted({r["train_minutes"] for r in curve})
        regimes = list(dict.fromkeys(r["regime"] for r in curve))
        wer = {(r["regime"], r["train_minutes"]): r["target_wer"] for r in curve}
        lines += ["", "Learning curve, target test WER %:", "",
                  "| regime | " + " | ".join(f"{m:g} min" for m in minutes) + " |",
                  "|---|" + "---:|" * len(minutes)]
        lines += [f"| {g} | " + " | ".join(_pct(wer.get((g, m))) for m in minutes) + " |" for g in regimes]
    if data.get("whisper"):
        lines += ["", "Whisper tiny.en on the real telephone domain:", "", "| model | WER % | CER % |",
                  "|---|---:|---:|"]
        lines += [f"| {r['model']} | {_pct(r['wer'])} | {_pct(r['cer'])} |" for r in data["whisper"]]
    lines.append(f"\n{_device(data)} Command: `asrlab notebooks run 02_fine_tuning`.")
    return "\n".join(lines)


def render_decoding(data: dict[str, Any]) -> str:
    """Notebook 06's results: WER per domain and decoder, speed, and the LM goal."""
    rows = data["rows"]
    domains = list(dict.fromkeys(r["domain"] for r in rows))
    setups = list(dict.fromkeys((r["decoder"], r["lm"]) for r in rows))
    label = {("greedy", "none"): "greedy", ("beam", "none"): "beam, no LM"}
    names = [label.get(s, f"{s[0]} + {s[1]} LM") for s in setups]
    cell = {(r["domain"], r["decoder"], r["lm"]): r for r in rows}
    lines = ["| domain | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for d in domains:
        values = []
        for decoder, lm in setups:
            r = cell.get((d, decoder, lm))
            values.append("-" if r is None else f"{100 * r['wer']:.1f} ({r['utterances_per_second']:.0f}/s)")
        lines.append(f"| {d} | " + " | ".join(values) + " |")
    goal = data.get("goal", {})
    reductions = ", ".join(f"{d} {100 * v:.0f}%" for d, v in goal.get("reduction", {}).items())
    lines.append(f"\nTest WER % (utterances per second end to end: acoustic model + decoding, "
                 f"{_threads(data.get('machine', {}).get('threads'))}; decoder {data.get('decoder_backend', '?')}, "
                 f"beam {data.get('beam_size', '?')}). LM weight and word score were tuned on each domain's dev set. "
                 f"Relative WER reduction of beam + target-text LM over greedy: {reductions or '-'}; goal "
                 f"{100 * goal.get('relative_wer_reduction_target', 0.3):.0f}% on at least one domain: "
                 f"{'met' if goal.get('met') else 'not met'}. Command: `asrlab notebooks run 06_decoding_and_errors`.")
    return "\n".join(lines)


def render_feature_extraction(data: dict[str, Any]) -> str:
    """Notebook 03's results: heads on the frozen encoder vs fine-tuning, layer probes, accent ID."""
    lines = [f"Target domain `{data['domain']}`.", "",
             "| method | test WER % | test CER % | trainable parameters | training (s) |", "|---|---:|---:|---:|---:|"]
    for method, r in data["heads_vs_finetuning"].items():
        lines.append(f"| {method} | {_pct(r['test_wer'])} | {_pct(r['test_cer'])} | {r['trainable_parameters']:,} "
                     f"| {r['training_seconds']:.0f} |")
    probes = data.get("layer_probes_dev_cer", {})
    if probes:
        layers: list[str] = []
        for per_layer in probes.values():
            layers += [name for name in per_layer if name not in layers]
        mixed = data.get("weighted_sum", {})
        lines += ["", "Linear CTC probes on each frozen layer, dev CER %:", "",
                  "| encoder | " + " | ".join(layers) + " | weighted sum |", "|---|" + "---:|" * (len(layers) + 1)]
        for name, per_layer in probes.items():
            cells = [_pct(per_layer.get(layer)) for layer in layers]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {_pct(mixed.get(name, {}).get('dev_cer'))} |")
    accent = data.get("accent_id")
    if accent:
        encoder, layer = accent["chosen"]
        lines.append(f"\nAccent identification (logistic regression on mean-pooled frozen features, unseen voices): "
                     f"{encoder}, {layer} (chosen on dev) scores {_pct(accent['test_accuracy'])}% on test, chance "
                     f"{_pct(accent['test_chance'])}%; log-mel statistics without an encoder: "
                     f"{_pct(accent['log_mel_statistics_dev_accuracy'])}% on dev.")
    lines.append("Command: `asrlab notebooks run 03_feature_extraction`.")
    return "\n".join(lines)


def render_adaptation(data: dict[str, Any]) -> str:
    """Notebook 05's scoreboard: source-only, MMD, CORAL, DANN and the label-using references."""
    seeds = len(data.get("seeds", [])) or "?"
    lines = ["| shift | method | target labels | lambda, layer | target WER % | relative to source-only "
             "| source WER % | source change (points) |", "|---|---|---|---|---:|---:|---:|---:|"]
    for r in data["summary"]:
        setting = "-" if r.get("weight") is None else f"{r['weight']:g}, {r['layer']}"
        spread = f" ± {100 * r['target_wer_std']:.1f}" if r.get("seeds", 1) > 1 else ""
        relative = "-" if r["method"] == "source-only" else f"{signed(-100 * r['rel_reduction'])}%"
        change = "-" if r["method"] == "source-only" else signed(100 * r['source_change'])
        lines.append(f"| {r['shift']} | {r['method']} | {'yes' if r['uses_target_labels'] else 'no'} | {setting} "
                     f"| {_pct(r['target_wer'])}{spread} | {relative} | {_pct(r['source_wer'])} | {change} |")
    goal, check = data.get("goal", {}), data.get("goal_check", {})
    met = "; ".join(f"{m}: {', '.join(check[m]['shifts_met']) or 'no shift'}" for m in ("mmd", "dann") if m in check)
    lines.append(f"\nMean ± standard deviation over {seeds} seeds, {data.get('steps', '?')} optimiser steps per run. "
                 f"Lambda and layer chosen on the first seed by the label-free rule `{data.get('rule', '?')}` "
                 "(the oracle's choice and its gap are in the notebook). Goal: MMD and DANN each cut target WER by "
                 f"{100 * goal.get('min_relative', 0.2):.0f}% relative to source-only"
                 + (f", by more than {goal['min_spreads']:g} times the spread over seeds," if goal.get("min_spreads") else "")
                 + f" on {goal.get('min_shifts', 2)} shift{'' if goal.get('min_shifts', 2) == 1 else 's'} "
                 "without raising source WER by more than "
                 f"{100 * goal.get('max_source_rise', 0.01):.0f} point; met on: {met or '-'}; "
                 f"{'reached' if check.get('reached') else 'not reached'}. "
                 "Command: `asrlab notebooks run 04_mmd 05_dann`.")
    return "\n".join(lines)


def _kilobytes(count: int | float) -> str:
    return f"{count / 1000:,.0f} kB"


def adapters_goal_lines(data: dict[str, Any]) -> list[str]:
    """Issue 16's goals checked on notebook 09's results: each line says met or not, with the numbers.

    Adapter goal: a parameter-efficient regime with at most 5% of the parameters within 10%
    (relative) of full fine-tuning's target WER, and zero forgetting when switched off. Deployment
    goal: int8 at least 3x smaller than the float file of the same format, not slower on 1 thread,
    WER within 1 point on source and target, real-time factor at most 0.05 on 1 thread.
    """
    regimes = {r["regime"]: r for r in data["regimes"]}
    lines = []
    full = regimes.get("full")
    off = data.get("switched_off_difference", {})
    for name in ("adapter", "lora"):
        r = regimes.get(name)
        if r is None or full is None:
            continue
        ratio = r["target_wer"] / full["target_wer"]
        met = r["trainable_share"] <= 0.05 and ratio <= 1.10 and off.get(name) == 0.0
        lines.append(f"- {name}: {100 * r['trainable_share']:.1f}% of the parameters (goal at most 5%), target WER "
                     f"{_pct(r['target_wer'])}% = {ratio:.3f} x full fine-tuning's {_pct(full['target_wer'])}% (goal at "
                     f"most 1.10), switched off: largest logit difference {off.get(name, float('nan')):g} "
                     f"(goal 0): **{'met' if met else 'not met'}**.")
    variants = {r["variant"]: r for r in data.get("deployment", [])}
    for fmt in ("torchscript", "onnx"):
        base, small = variants.get(fmt), variants.get(f"{fmt} int8")
        if base is None or small is None:
            continue
        smaller = base["size_mb"] / small["size_mb"]
        slower = small["rtf_1_thread"] / base["rtf_1_thread"]
        change = max(abs(small["source_wer"] - base["source_wer"]), abs(small["accent_wer"] - base["accent_wer"]))
        met = smaller >= 3 and slower <= 1.0 and change <= 0.01 and small["rtf_1_thread"] <= 0.05
        lines.append(f"- {fmt} int8: {smaller:.1f}x smaller (goal 3x), one-thread RTF {small['rtf_1_thread']:.4f} "
                     f"against {base['rtf_1_thread']:.4f} float (goal: not slower, at most 0.05), WER change at most "
                     f"{100 * change:.1f} points (goal 1): **{'met' if met else 'not met'}**.")
    return lines


def render_adapters(data: dict[str, Any]) -> str:
    """Notebook 09's results: parameter-efficient regimes, the adapter bank, export and quantisation,
    chunked decoding, and the issue's goals checked."""
    lines = [f"Target domain `{data['target']}`, {data['train_minutes']:g} labelled minutes, "
             f"{data['budget_seconds']} audio-seconds of training per regime; uses of the target: its labels.", "",
             "| regime | target WER % | target CER % | source WER % | forgetting (points) | trainable parameters "
             "| share % | stored per domain | seconds |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["regimes"]:
        lines.append(f"| {r['regime']} | {_pct(r['target_wer'])} | {_pct(r['target_cer'])} | {_pct(r['source_wer'])} "
                     f"| {_points(r['forgetting'])} | {r['trainable_parameters']:,} | {_pct(r['trainable_share'])} "
                     f"| {_kilobytes(r['stored_bytes'])} | {r['seconds']:.0f} |")
    bank = data.get("bank", [])
    if bank:
        columns = [k for k in bank[0] if k != "adapter"]
        lines += ["", f"One base model, one adapter per domain (switching costs "
                      f"{1000 * data.get('switch_seconds', float('nan')):.2f} ms), WER %:", "",
                  "| adapter | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
        lines += [f"| {r['adapter']} | " + " | ".join(_pct(r[c]) for c in columns) + " |" for r in bank]
    deployment = data.get("deployment", [])
    if deployment:
        lines += ["", "Exported with the feature front end and vocabulary (the fully fine-tuned model):", "",
                  "| variant | file MB | real-time factor, 1 thread | peak MB | source WER % | target WER % |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['variant']} | {r['size_mb']:.2f} | {r['rtf_1_thread']:.4f} | {r['peak_mb']:.0f} "
                  f"| {_pct(r['source_wer'])} | {_pct(r['accent_wer'])} |" for r in deployment]
    chunks = data.get("chunks", [])
    if chunks:
        lines += ["", "Chunked decoding (the BiGRU cannot stream): WER % and latency against chunk length:", "",
                  "| chunk (s) | context either side (s) | WER % | latency (s) |", "|---:|---:|---:|---:|"]
        lines += [f"| {r['chunk_s']} | {r['context_s']:g} | {_pct(r['wer'])} | {r['latency_s']:.2f} |" for r in chunks]
    goals = adapters_goal_lines(data)
    if goals:
        lines += ["", "The issue's goals:", ""] + goals
    lines.append(f"\n{_device(data)} Command: `asrlab notebooks run --size full 09_adapters_and_deployment`.")
    return "\n".join(lines)


def render_whisper(data: dict[str, Any]) -> str:
    """Notebook 10's results: zero-shot decoding with and without safeguards, the fine-tuning
    regimes (mean ± sd over seeds), asrlab's CTC models beside them, and issue 18's goals."""
    from asrlab.course.whisper_finetuning import goal_lines

    knobs = data.get("knobs", {})
    lines = ["Zero-shot Whisper tiny.en (uses nothing of the target):", "",
             "| domain | decoding | WER % | insertions % | looping utterances % | runaway utterances % |", "|---|---|---:|---:|---:|---:|"]
    for r in data["zero_shot"]:
        lines.append(f"| {r['domain']} | {r['decoding']} | {_pct(r['wer'])} | {_pct(r.get('insertions'))} "
                     f"| {_pct(r.get('repeating'))} | {_pct(r.get('runaway'))} |")
    lines += ["", f"Fine-tuned end to end, {knobs.get('steps', '?')} steps of {knobs.get('batch', '?')} utterances, "
                  f"mean ± sd over {len(knobs.get('seeds', [])) or '?'} seeds:", "",
              "| domain | regime | uses of the target | target WER % | relative to zero-shot | source WER % "
              "| forgetting (points) | training (s) |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in data["board"]:
        spread = f" ± {100 * r['target_wer_sd']:.1f}" if r.get("seeds", 1) > 1 else ""
        relative = "-" if r.get("relative_reduction") is None else f"{signed(-100 * r['relative_reduction'], 0)}%"
        lines.append(f"| {r['domain']} | {r['regime']} | {r['uses']} | {_pct(r['target_wer'])}{spread} | {relative} "
                     f"| {_pct(r.get('source_wer'))} | {_points(r.get('forgetting'))} | {r.get('train_seconds', 0):.0f} |")
    if data.get("ctc"):
        lines += ["", "asrlab's CTC models on the same targets (notebook 02):", "",
                  "| domain | model | uses of the target | target WER % |", "|---|---|---|---:|"]
        lines += [f"| {r['domain']} | {r['model']} | {r['uses']} | {_pct(r['target_wer'])} |" for r in data["ctc"]]
    if data.get("inputs"):
        lines += ["", "Variable-length input against 30 s windows (same regime and steps):", "",
                  "| input | target WER % | training (s) |", "|---|---:|---:|"]
        lines += [f"| {r.get('input', '?')} | {_pct(r['target_wer'])} | {r['train_seconds']:.0f} |" for r in data["inputs"]]
    goal = data.get("goal")
    if goal:
        lines += ["", "The issue's goals (regime fixed before the run: everything trained):", ""]
        lines += [f"- {line}." for line in goal_lines(goal)]
    test = knobs.get("test_utts")
    lines.append(f"\nScored on {'the first ' + str(test) + ' test utterances' if test else 'the whole test sets'} "
                 f"with Whisper's English normaliser. {_device(data)} "
                 "Command: `asrlab notebooks run --size full 10_whisper_finetuning`.")
    return "\n".join(lines)


def render_cross_lingual(data: dict[str, Any]) -> str:
    """Notebook 08's results: the English model moved to a new language (each variant's mean ± sd
    over seeds), the learning curve, the layer probes, and multi-task learning with forgetting."""
    from asrlab.course.cross_lingual import transfer_summary

    summary = data.get("transfer_summary") or transfer_summary(data["transfer"])
    seeds = max((r.get("seeds", 1) for r in summary), default=1)
    language = _LANGUAGE_NAMES.get(data.get("language", ""), data.get("language", "?"))
    minutes = data["train_minutes"]
    labels = f"{minutes:g} min of {language} labels"
    english = data.get("english_model", {})
    lines = [f"{language}: {minutes:g} labelled minutes, {data.get('budget_seconds', '?')} audio-seconds of training "
             f"per run, {'mean ± sd over ' + str(seeds) + ' seeds' if seeds > 1 else 'one seed'}:", "",
             "| variant | reads of the target | trainable parameters | target WER % | target CER % "
             "| dev CER after epoch 1 % | empty transcripts % | training (s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|",
             f"| the English model as it is | nothing | 0 | {_pct(english.get('wer'))} | {_pct(english.get('cer'))} "
             "| - | - | 0 |"]
    for r in summary:
        lines.append(f"| {r['variant']} | {labels} | {r['trainable_parameters']:,} | {_pct_sd(r, 'target_wer')} "
                     f"| {_pct_sd(r, 'target_cer')} | {_pct_sd(r, 'first_dev_cer')} "
                     f"| {_pct(r.get('target_empty_fraction'))} | {r.get('seconds') or 0:.0f} |")
    curve = data.get("learning_curve") or []
    if curve:
        variants = list(dict.fromkeys(r["variant"] for r in curve))
        by_point = {(r["variant"], r["train_minutes"]): r for r in curve}
        lines += ["", "Learning curve (one seed, the same audio budget per run): target WER % against labelled minutes.",
                  "", "| labelled minutes | " + " | ".join(variants) + " |", "|---:|" + "---:|" * len(variants)]
        for amount in sorted({r["train_minutes"] for r in curve}):
            cells = [_pct(by_point[v, amount]["target_wer"]) if (v, amount) in by_point else "-" for v in variants]
            lines.append(f"| {amount:g} | " + " | ".join(cells) + " |")
    probes = data.get("layer_probes") or []
    if probes:
        encoders = list(dict.fromkeys(r["encoder"] for r in probes))
        by_layer = {(r["encoder"], r["layer"]): r for r in probes}
        lines += ["", f"Linear CTC probes on frozen layers, dev CER % on {language} (trained on the labelled minutes):",
                  "", "| layer | " + " | ".join(encoders) + " |", "|---|" + "---:|" * len(encoders)]
        for layer in dict.fromkeys(r["layer"] for r in probes):
            lines.append(f"| {layer} | " + " | ".join(
                _pct(by_layer[e, layer]["dev_cer"]) if (e, layer) in by_layer else "-" for e in encoders) + " |")
    methods = list({r["method"]: r for r in (data.get("multitask") or []) + (data.get("forgetting") or [])}.values())
    if methods:
        setup = data.get("multitask_setup", {})
        target = (f"`{setup['target']}`, {setup['train_minutes']:g} labelled minutes, {setup['budget_seconds']} "
                  "audio-seconds per run, " if setup else "an English target, ")
        lines += ["", f"Multi-task fine-tuning on {target}one seed (forgetting: the rise of the source test WER):", "",
                  "| method | reads of the target | target WER % | target CER % | accent accuracy on dev % "
                  "| source WER % | forgetting (points) | training (s) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in methods:
            reads = "labels" + (" and accent labels" if r.get("aux_dev_accuracy") is not None else "") + (
                ", with labelled source speech" if "replay" in r["method"] else "")
            lines.append(f"| {r['method']} | {reads} | {_pct(r['target_wer'])} | {_pct(r.get('target_cer'))} "
                         f"| {_pct(r.get('aux_dev_accuracy'))} | {_pct(r.get('source_wer'))} "
                         f"| {_points(r.get('forgetting'))} | {r.get('seconds') or 0:.0f} |")
    lines.append(f"\nTest sets score; the dev sets chose each run's kept weights. {_device(data)} "
                 "Command: `asrlab notebooks run --size full 08_cross_lingual_and_multitask`.")
    return "\n".join(lines)


_LANGUAGE_NAMES = {"es": "Spanish", "de": "German", "en": "English"}


def _pct_sd(row: dict[str, Any], measure: str) -> str:
    """``"36.5 ± 1.2"`` from a summary row's mean and ``<measure>_sd`` (the mean alone without a spread)."""
    spread = row.get(f"{measure}_sd")
    return _pct(row.get(measure)) + ("" if spread is None else f" ± {100 * spread:.1f}")


def _device(data: dict[str, Any]) -> str:
    """``"Device: cpu, 2 CPU threads."`` from a results file's ``machine`` record."""
    machine = data.get("machine", {})
    return f"Device: {machine.get('device', '?')}, {_threads(machine.get('threads'))}."


def _threads(count: int | None, kind: str = "CPU") -> str:
    """``"1 CPU thread"``, ``"2 CPU threads"``, or ``"? CPU threads"`` when unknown."""
    return f"{'?' if count is None else count} {kind} thread{'' if count == 1 else 's'}"


def render_notebook_runs(data: dict[str, Any], size: str = "full") -> str:
    """The run log of ``asrlab notebooks run --size SIZE``: time per notebook, machine, model, and
    (where the notebook saved one) its headline, the number the lesson is about."""
    headlines = any(r.get("headline") for r in data.values())
    lines = ["| notebook | minutes | finished | machine | source model |" + (" headline |" if headlines else ""),
             "|---|---:|---|---|---|" + ("---|" if headlines else "")]
    for name, r in data.items():
        m = r.get("machine", {})
        where = f"{m.get('cpus', '?')} CPU cores, {_threads(m.get('torch_threads'), 'torch')}" + (
            f", {m['gpu']}" if m.get("gpu") else "")
        sha = (r.get("source_model_sha256") or "-")[:12]
        row = f"| {name} | {r['seconds'] / 60:.1f} | {r['finished'][:10]} | {where} | `{sha}` |"
        lines.append(row + (f" {r.get('headline') or '-'} |" if headlines else ""))
    total = sum(r["seconds"] for r in data.values()) / 60
    lines.append(f"\n{total:.0f} minutes in all. Command: `asrlab notebooks run --size {size}` (the source model column "
                 "is the start of the sha256 of `asrlab/pretrained/asrlab-source.pt` that each run used)."
                 + (" Minutes are the last run's wall time: a full-size run that resumed from its run records "
                    "(`results/runs/`) counts only the runs it trained itself." if size == "full" else ""))
    return "\n".join(lines)


#: Section name -> (results file, renderer). Where the file is a mapping of keys to files, the
#: renderer gets ``{key: data}`` of those that exist (the section is written when any does).
RENDERERS: dict[str, tuple[str | dict[str, str], Callable[[dict[str, Any]], str]]] = {
    "bench": ("bench.json", render_bench),
    "corpus": ({"english": "corpus-full.json", "languages": "corpus-full-languages.json"}, render_corpus_with_languages),
    "course-source-lab": ("course-source-lab.json", render_domain_table),
    "domain-gap": ("domain-gap.json", render_domain_gap),
    "fine-tuning": ("02_fine_tuning-full.json", render_fine_tuning),
    "feature-extraction": ("03_feature_extraction-full.json", render_feature_extraction),
    "adaptation": ("05_dann-full.json", render_adaptation),
    "decoding": ("06_decoding_and_errors-full.json", render_decoding),
    "adapters": ("09_adapters_and_deployment-full.json", render_adapters),
    "whisper": ("10_whisper_finetuning-full.json", render_whisper),
    "cross-lingual": ("08_cross_lingual_and_multitask-full.json", render_cross_lingual),
    "notebook-runs": ("notebooks-full.json", render_notebook_runs),
    "course-lab": ("notebooks-lab.json", lambda data: render_notebook_runs(data, "lab")),
    "scoreboard-lab": ({"dann": "05_dann-lab.json", "self_training": "07_self_training-lab.json"}, render_scoreboard),
    "scoreboard": ({"dann": "05_dann-full.json", "self_training": "07_self_training-full.json"}, render_scoreboard),
}


def _load_results(results: Path, filename: str | dict[str, str]) -> dict[str, Any] | None:
    """The data of one section's results file(s), or None when none exists."""
    if isinstance(filename, str):
        path = results / filename
        return json.loads(path.read_text()) if path.is_file() else None
    found = {key: json.loads((results / name).read_text()) for key, name in filename.items()
             if (results / name).is_file()}
    return found or None


def update_readme(readme: str | os.PathLike = "README.md", results: str | os.PathLike = RESULTS_DIR) -> list[str]:
    """Rewrite every section whose results file exists; returns the section names written."""
    readme = Path(readme)
    text = readme.read_text()
    written = []
    for name, (filename, render) in RENDERERS.items():
        data = _load_results(Path(results), filename)
        if data is not None and f"<!-- asrlab:{name} -->" in text:
            text = replace_section(text, name, render(data))
            written.append(name)
    readme.write_text(text)
    return written
