"""The docs site's tables and figures, made from the recorded results in bench/results/.

Nothing on the site is typed in by hand: ``mkdocs build`` runs :func:`on_pre_build`, which
reads ``bench/results/*.json`` and writes Markdown snippets to ``docs/generated/`` (pulled into
pages with ``--8<-- "generated/NAME.md"``) and PNG figures to ``docs/figures/``. Each snippet
names the results file and the command that made it. Run it alone with
``python scripts/docs_hooks.py``.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
GENERATED = ROOT / "docs" / "generated"
FIGURES = ROOT / "docs" / "figures"


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write only new content: ``mkdocs serve`` rebuilds on every change under docs/, so
    rewriting the same bytes on each build would rebuild forever."""
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def _save_png(fig: Any, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    _write_if_changed(path, buffer.getvalue())


def _load(name: str) -> Any | None:
    path = RESULTS / name
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _recorded(entries: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
    """(entry, data) for each entry whose results file exists (others are skipped: the page
    shows what has been measured). An entry is a file name or a tuple starting with one."""
    for entry in entries:
        data = _load(entry if isinstance(entry, str) else entry[0])
        if data is not None:
            yield entry, data


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.2g}" if 0 < abs(value) < 0.01 else f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _commands(data: dict[str, Any]) -> list[str]:
    cmd = data.get("command") or data.get("merge_command") or []
    return [cmd] if isinstance(cmd, str) else list(cmd)


def _source(name: str, data: dict[str, Any]) -> str:
    cmds = _commands(data)
    shown = "; ".join(f"`{c}`" for c in cmds[:3]) + (f" (and {len(cmds) - 3} more)" if len(cmds) > 3 else "")
    return f"\n*Source: `bench/results/{name}`" + (f", made by {shown}" if shown else "") + ".*\n"


# ------------------------------------------------------------------ speed
def speed_tables() -> dict[str, str]:
    data = _load("speed-cpu.json")
    if data is None:
        return {}
    out: dict[str, str] = {}
    for group, title in (("fused", "fused"), ("features", "features")):
        parts = []
        for threads, block in sorted(data["threads"].items()):
            rows = [r for r in block["rows"] if r.get("group") == group]
            if not rows:
                continue
            parts.append(f"**{threads} thread{'s' if threads != '1' else ''}**\n")
            header = ["size", "cell", "bidirectional", "layers", "mode", "kernel", "rnnkit / torch.nn"]
            has_keras = any(r.get("keras/torch") is not None for r in rows)
            if has_keras:
                header.append("Keras 3 / torch.nn")
            body = []
            for r in rows:
                row = [
                    r["size"],
                    r["kind"],
                    r.get("bidirectional"),
                    r.get("layers"),
                    r["mode"],
                    f"`{r['kernel']}`",
                    r["rnnkit/torch"],
                ]
                if has_keras:
                    row.append(r.get("keras/torch"))
                body.append(row)
            parts.append(_table(header, body))
        out[f"speed-{title}"] = "\n".join(parts) + _source("speed-cpu.json", data)
    scan = []
    for threads, block in sorted(data["threads"].items()):
        for r in block["rows"]:
            if r.get("group") == "scan":
                scan.append([threads, r["T"], f"min{r['kind']}", f"`{r['rnn_kernel']}`", r["speedup"]])
    if scan:
        out["speed-scan"] = _table(
            ["threads", "T", "layer", f"{'GRU/LSTM'} kernel", "speed-up over GRU/LSTM"], scan
        ) + _source("speed-cpu.json", data)
    return out


# ------------------------------------------------------------------ tasks
def _accuracy(d: dict[str, Any]) -> str:
    m = d["metrics"]
    return f"test accuracy {m['test_accuracy']:.1%}, macro-F1 {m['test_macro_f1']:.3f}"


def task_table() -> str:
    rows: list[list[Any]] = []
    cmds: list[str] = []

    def add(name: str, what: str, metric: Callable[[dict[str, Any]], str]) -> None:
        data = _load(name)
        if data is None:
            return
        rows.append([what, metric(data), f"`{name}`"])
        cmds.extend(_commands(data)[:1])

    add(
        "sentiment-imdb.json",
        "IMDB sentiment, BiLSTM",
        _accuracy,
    )
    add(
        "sentiment-tweets.json",
        "tweets, 3 classes",
        _accuracy,
    )
    add(
        "lm-ptb.json",
        "Penn Treebank word LM",
        lambda d: f"test perplexity {d['metrics']['test_perplexity']:.1f}",
    )
    add(
        "char-shakespeare.json",
        "Shakespeare character LM",
        lambda d: f"validation {d['metrics']['validation_nats_per_token']:.3f} nats/char",
    )
    for case in ("seattle-h1", "seattle-h7", "nyc-h24", "aapl-h5"):
        add(f"forecast-{case}.json", f"forecast {case}", lambda d: str(d["verdict"]).split(";")[0])
    add("translation-main.json", "English -> Spanish, verses held out at random", _translation_result)
    add(
        "speech-bigru-pad.json",
        "speech-to-text, spoken digit strings, BiGRU",
        lambda d: (
            f"test WER {d['metrics']['test_beam+lm_wer']:.1%} (beam + LM); "
            f"unseen voices {d['flite']['beam+lm']['wer']:.1%}"
        ),
    )
    add(
        "commands-words.json",
        "voice commands, 10 words + unknown + silence",
        lambda d: (
            f"test accuracy {d['metrics']['test_accuracy']:.1%}; unseen voices {d['flite']['accuracy']:.1%}"
        ),
    )
    add(
        "music-melody.json",
        "Bach melodies, LSTM",
        lambda d: (
            f"test NLL {d['test']['nll_per_note']:.3f} nats/note "
            f"(interpolated trigram {d['baselines_test']['interpolated trigram']['nll']:.3f})"
        ),
    )
    add("caption-shapes.json", "captioning shapes, attention, greedy", _caption_result)
    return _table(["task", "result", "results file"], rows)


def _translation_result(d: dict[str, Any]) -> str:
    best = {(r["system"], r["split"], r["beam"]): r for r in d["rows"]}
    model, ref = best[("model", "random", 5)], best[("apertium -u eng-spa", "random", None)]
    return (
        f"BLEU {model['bleu']:.1f}, chrF {model['chrf']:.1f} (Apertium {ref['bleu']:.1f} / {ref['chrf']:.1f})"
    )


def _caption_result(d: dict[str, Any]) -> str:
    row = d["rows"][0]
    s = row["scores"]
    return (
        f"BLEU-4 {s['all']['bleu4']:.1f}, exact {s['all']['exact_match']:.1%} "
        f"({s['held_out']['exact_match']:.1%} on held-out pairs)"
    )


def memory_table() -> str:
    parts = []
    for (_, task), data in _recorded((f"memory-{t}.json", t) for t in ("adding", "copy")):
        rows = sorted(data["rows"], key=lambda r: (r["length"], r["cell"]))
        body = [[r["length"], r["cell"], r["steps"], r["final_loss"], r["baseline"]] for r in rows]
        parts.append(f"**{task} problem** ({data.get('metric', 'test loss')})\n")
        parts.append(_table(["T", "cell", "steps", "final loss", "memoryless baseline"], body))
        parts.append(_source(f"memory-{task}.json", data))
    return "\n".join(parts)


def five_types() -> str:
    data = _load("five-types.json")
    if data is None:
        return "*Not measured yet: run `python bench/five_types.py`.*\n"
    body = [
        [
            r["type"],
            f"`{r['layers']}`",
            r["parameters"],
            f"{r['test_accuracy']:.1%}",
            r["train_seconds_ratio"],
        ]
        for r in data["rows"]
    ]
    return (
        f"{data['dataset']}; {data['setup']}\n\n"
        + _table(["type", "layers", "parameters", "test accuracy", "training time / LSTM's"], body)
        + _source("five-types.json", data)
    )


# ------------------------------------------------------------------ task pages
def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _history(data: dict[str, Any]) -> list[dict[str, float]]:
    """``history_csv`` (a list of CSV lines) as rows of floats."""
    lines = data.get("history_csv") or []
    if not lines:
        return []
    header = lines[0].split(",")
    return [dict(zip(header, map(float, line.split(",")), strict=True)) for line in lines[1:]]


SENTIMENT_RUNS = (
    ("sentiment-imdb.json", "IMDB"),
    ("sentiment-imdb-simplernn.json", "IMDB"),
    ("sentiment-imdb-simplernn-last.json", "IMDB"),
    ("sentiment-tweets.json", "tweets (3 classes)"),
)


def task_sentiment() -> str:
    rows, parts = [], []
    for (name, data_name), d in _recorded(SENTIMENT_RUNS):
        c, m = d["config"], d["metrics"]
        model = (
            f"{'Bi' if c['bidirectional'] else ''}{c['cell'].upper()}({c['units']}), {c['pooling']} pooling"
        )
        minutes = m["train_seconds_this_session"] / 60
        rows.append(
            [
                data_name,
                model,
                m["epochs"],
                f"{minutes:.1f}",
                _pct(m["test_accuracy"]),
                m["test_macro_f1"],
                f"`{name}`",
            ]
        )
        parts.append(f"`{d['command']}`")
    table = _table(
        ["data", "model", "epochs", "train minutes", "test accuracy", "macro-F1", "results file"], rows
    )
    return table + "\n*Made by " + "; ".join(parts) + " (1 thread).*\n"


def task_lm() -> str:
    rows = []
    for (name, what), d in _recorded(
        (
            ("lm-ptb.json", "Penn Treebank, words"),
            ("lm-ptb-adam.json", "Penn Treebank, words (earlier Adam recipe)"),
            ("char-shakespeare.json", "Shakespeare, characters"),
        )
    ):
        c, m = d["config"], d["metrics"]
        model = f"{c['num_layers']} x {c['units']} {c['cell'].upper()}, {c.get('optimizer', 'adam')}"
        rows.append(
            [what, model, m["epochs"], f"{m['test_perplexity']:.1f}", m["test_nats_per_token"], f"`{name}`"]
        )
    out = _table(["corpus", "model", "epochs", "test perplexity", "test nats/token", "results file"], rows)
    lat = []
    for (name, weights), d in _recorded(
        (("suggest-latency-ptb.json", "float32"), ("suggest-latency-ptb-int8.json", "int8"))
    ):
        step, rerun = d["incremental_keystrokes_that_step"], d["rerun_prefix_all_keystrokes"]
        lat.append([weights, step["p50_ms"], step["p99_ms"], rerun["p50_ms"], f"`{name}`"])
    if lat:
        out += "\n**A keystroke's suggestions** (the PTB model, 1 thread; milliseconds)\n\n"
        out += _table(
            [
                "weights",
                "keystroke that steps, p50",
                "p99",
                "re-running the whole prefix, p50",
                "results file",
            ],
            lat,
        )
    for name in ("lm-ptb.json", "char-shakespeare.json"):
        d = _load(name)
        if d and d.get("sample"):
            smp = d["sample"]
            out += (
                f"\nA sample (`{name}`: prompt {smp['prompt']!r}, temperature {smp['temperature']}, "
                f"seed {smp['seed']}):\n\n```text\n{smp['text'].strip()[:600]}\n```\n"
            )
    return out + _source("lm-ptb.json", _load("lm-ptb.json") or {})


FORECAST_CASES = ("seattle-h1", "seattle-h7", "nyc-h24", "aapl-h5")


def task_forecast() -> str:
    out = []
    for (_, case), d in _recorded((f"forecast-{c}.json", c) for c in FORECAST_CASES):
        c, t = d["config"], d["test"]
        methods = t["methods"]
        rows = [
            [name, m["mase"], m["mae"], m["rmse"], _pct(m.get("directional_accuracy"))]
            for name, m in methods.items()
        ]
        rows.sort(key=lambda r: r[1])
        out.append(
            f"**{case}**: `{c['data']}` {c['target']!r}, horizon {c['horizon']}, lookback {c['lookback']}, "
            f"{t['origins']} test origins ({t['rows']})\n"
        )
        out.append(_table(["method", "MASE", "MAE", "RMSE", "direction right"], rows))
        out.append(f"\n*`bench/results/forecast-{case}.json`, made by `{d['command']}`.*\n")
    return "\n".join(out)


def task_translate() -> str:
    d = _load("translation-main.json")
    if d is None:
        return "*Not measured yet.*\n"
    rows = [
        [r["system"], r["split"], r["beam"] or "-", f"{r['bleu']:.2f}", f"{r['chrf']:.2f}", r["sentences"]]
        for r in d["rows"]
    ]
    tr = d["training"]
    head = (
        f"{tr['pairs']['train']:,} training pairs, {tr['parameters']:,} parameters, "
        f"{tr['train_seconds_this_session'] / 60:.0f} minutes of training"
        + (
            f" (stopped by its time budget in epoch {tr['stopped_by_time_budget']['epoch']}); "
            if tr.get("stopped_by_time_budget")
            else f" ({tr.get('epochs', '?')} epochs); "
        )
        + "random = verses held out at random, books = whole books held out.\n\n"
    )
    table = _table(["system", "test split", "beam", "BLEU", "chrF", "sentences"], rows)
    ex = d.get("examples") or []
    sample = ""
    if ex:
        e = ex[0]
        lines = f"source:    {e['source']}\nreference: {e['reference']}\nmodel:     {e['model']}"
        sample = f"\n```text\n{lines}\n```\n"
    return head + table + sample + _source("translation-main.json", d)


SPEECH_RUNS = (
    ("speech-bigru-pad.json", "BiGRU 2 x 128, 12 epochs"),
    ("speech-gru-uni-12ep.json", "GRU 2 x 128 (streaming-ready), 12 epochs"),
    ("speech-bilstm-8ep.json", "BiLSTM 2 x 128, 8 epochs"),
)


def task_speech() -> str:
    rows, cmds = [], []
    for (name, what), d in _recorded(SPEECH_RUNS):
        m, f = d["metrics"], d["flite"]
        rows.append(
            [
                what,
                _pct(m["test_greedy_wer"]),
                _pct(m["test_beam+lm_wer"]),
                _pct(f["greedy"]["wer"]),
                _pct(f["beam+lm"]["wer"]),
                d["real_time_factor_1_thread"].get("greedy"),
                f"`{name}`",
            ]
        )
        cmds.append(f"`{d['command']}`")
    header = [
        "model",
        "test WER, greedy",
        "test WER, beam + LM",
        "unseen voices (flite) WER, greedy",
        "flite, beam + LM",
        "real-time factor (greedy, 1 thread)",
        "results file",
    ]
    return _table(header, rows) + "\n*Made by " + "; ".join(cmds) + ".*\n"


def task_commands() -> str:
    rows, cmds = [], []
    for name, d in _recorded(("commands-words.json", "commands-digits.json")):
        m = d["metrics"]
        rows.append(
            [
                m["data"],
                len(m["classes"]),
                m["samples"]["test"],
                _pct(m["test_accuracy"]),
                _pct(d["flite"]["accuracy"]),
                d["real_time_factor_1_thread"]["recognize"],
                f"`{name}`",
            ]
        )
        cmds.append(f"`{d['command']}`")
    header = [
        "data",
        "classes",
        "test clips",
        "test accuracy",
        "unseen voices (flite)",
        "real-time factor",
        "file",
    ]
    return _table(header, rows) + "\n*Made by " + "; ".join(cmds) + ".*\n"


def task_music() -> str:
    out = []
    mel = _load("music-melody.json")
    if mel is not None:
        rows = [["LSTM 2 x 256 (this task)", mel["test"]["nll_per_note"]]]
        rows += [[name, b["nll"]] for name, b in mel["baselines_test"].items()]
        out.append(
            f"**Melody** (soprano lines; test tunes never seen in training; {mel['epochs_run']} epochs, "
            f"{mel['train_seconds'] / 60:.0f} minutes)\n"
        )
        out.append(_table(["model", "test NLL per note (nats, lower is better)"], rows))
        out.append(_source("music-melody.json", mel))
    satb = _load("music-satb.json")
    if satb is not None:
        rows = [["LSTM 2 x 256 (this task)", satb["test"]["nll_per_step"]]]
        rows += [[name, b["per_step"]] for name, b in satb["baselines_test"].items()]
        out.append(
            f"\n**Four voices** (SATB on a sixteenth grid; {satb['epochs_run']} epochs, "
            f"{satb['train_seconds'] / 60:.0f} minutes)\n"
        )
        out.append(_table(["model", "test NLL per step, four voices (nats)"], rows))
        comp = satb["composed"]
        guarded = satb.get("sampling", {}).get("avoid_parallels", False)
        out.append(
            f"\nParallel fifths and octaves per 100 chord changes: composed "
            f"{comp['model']['parallels_per_100_changes']:.1f}"
            f"{' (sampled with them forbidden)' if guarded else ''}, Bach "
            f"{comp['bach']['parallels_per_100_changes']:.2f}; notes in key "
            f"{comp['model']['in_key']:.1%}, Bach {comp['bach']['in_key']:.1%}.\n"
        )
        out.append(_source("music-satb.json", satb))
    return "\n".join(out)


def task_caption() -> str:
    rows, cmds = [], []
    for _, d in _recorded(("caption-shapes.json", "caption-digits.json")):
        cmds.append(f"`{d['command']}`")
        for r in d["rows"]:
            s = r["scores"].get("all", r["scores"])
            held = r["scores"].get("held_out", {}).get("exact_match")
            rows.append(
                [
                    Path(r["run"]).name,
                    r["data"],
                    r["model"],
                    r["decoder"],
                    r["epochs"],
                    f"{r['train_minutes']:.1f}",
                    f"{s['bleu4']:.1f}",
                    _pct(s["exact_match"]),
                    _pct(held),
                ]
            )
    header = [
        "run",
        "data",
        "model",
        "decoder",
        "epochs",
        "train minutes",
        "BLEU-4",
        "exact match",
        "exact, held-out pairs",
    ]
    return _table(header, rows) + "\n*Made by " + "; ".join(cmds) + ".*\n"


def task_snippets() -> dict[str, str]:
    return {
        "task-sentiment": task_sentiment(),
        "task-lm": task_lm(),
        "task-forecast": task_forecast(),
        "task-translate": task_translate(),
        "task-speech": task_speech(),
        "task-commands": task_commands(),
        "task-music": task_music(),
        "task-caption": task_caption(),
    }


# ------------------------------------------------------------------ figures
def figures() -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the site still builds; the figures are missing
        return
    FIGURES.mkdir(parents=True, exist_ok=True)
    grads = _load("vanishing-gradients.json")
    if grads is not None:
        fig, ax = plt.subplots(figsize=(7, 4))
        for cell, label in (("simple", "SimpleRNN"), ("lstm", "LSTM"), ("gru", "GRU")):
            dh = grads["cells"][cell]["init"]["dh_norm"]
            last = max(dh[-1], 1e-300)
            ax.semilogy(range(1, len(dh) + 1), [max(v / last, 1e-300) for v in dh], label=label)
        ax.set_xlabel("step t (the loss is on the last step)")
        ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
        ax.set_title(f"How much gradient reaches step t (T = {grads['config']['length']}, at initialisation)")
        ax.legend()
        fig.tight_layout()
        _save_png(fig, FIGURES / "vanishing-gradients.png")
        plt.close(fig)
    five = _load("five-types.json")
    if five is not None:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        names = [r["type"] for r in five["rows"]]
        acc = [r["test_accuracy"] * 100 for r in five["rows"]]
        ax.bar(names, acc, color="#4477aa")
        for i, (a, r) in enumerate(zip(acc, five["rows"], strict=True)):
            ax.text(i, a + 0.5, f"{a:.1f}%\n{r['train_seconds_ratio']:.2f}x time", ha="center", fontsize=8)
        ax.set_ylim(min(acc) - 10, 100)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title("The five types on one dataset")
        fig.tight_layout()
        _save_png(fig, FIGURES / "five-types.png")
        plt.close(fig)
    task_figures(plt)


# PNGs that bench scripts drew from their own results: copied as they are.
COPIED_FIGURES = (
    "forecast-seattle-h7-test.png",
    "forecast-nyc-h24-test.png",
    "forecast-aapl-h5-test.png",
    "forecast-seattle-h7-future.png",
    "commands-words-confusion.png",
    "memory-adding.png",
)


def _save(fig: Any, name: str) -> None:
    fig.tight_layout()
    _save_png(fig, FIGURES / name)


def _bars(plt: Any, name: str, title: str, ylabel: str, labels: list[str], values: list[float]) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.bar(labels, values, color=["#4477aa"] + ["#bbbbbb"] * (len(values) - 1))
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", labelsize=8)
    _save(fig, name)
    plt.close(fig)


def task_figures(plt: Any) -> None:
    """One figure per task page (and section 5 of the guide), from the recorded results."""
    for name in COPIED_FIGURES:
        if (RESULTS / name).is_file():
            _write_if_changed(FIGURES / name, (RESULTS / name).read_bytes())
    curves = [(n, _load(n)) for n, _ in SENTIMENT_RUNS[:3]]
    if all(d is not None for _, d in curves):
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for _, d in curves:
            c = d["config"]  # type: ignore[index]
            hist = _history(d)  # type: ignore[arg-type]
            label = f"{'Bi' if c['bidirectional'] else ''}{c['cell'].upper()}, {c['pooling']} pooling"
            ax.plot(
                [h["epoch"] + 1 for h in hist], [100 * h["val_accuracy"] for h in hist], "o-", label=label
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (%)")
        ax.set_title("IMDB sentiment: which models learn")
        ax.legend(fontsize=8)
        _save(fig, "sentiment-imdb.png")
        plt.close(fig)
    ptb = _load("lm-ptb.json")
    if ptb is not None:
        hist = _history(ptb)
        fig, ax = plt.subplots(figsize=(7, 3.4))
        ax.plot([h["epoch"] + 1 for h in hist], [math.exp(h["loss"]) for h in hist], "o-", label="training")
        ax.plot(
            [h["epoch"] + 1 for h in hist], [math.exp(h["val_loss"]) for h in hist], "o-", label="validation"
        )
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("perplexity")
        ax.set_title("Penn Treebank word language model (2 x 200 LSTM)")
        ax.legend()
        _save(fig, "lm-ptb.png")
        plt.close(fig)
    mt = _load("translation-main.json")
    if mt is not None:
        rows = [r for r in mt["rows"] if r["split"] == "random" and r["system"] != "copy source"]
        labels = [f"{r['system']}" + (f" (beam {r['beam']})" if r["beam"] else "") for r in rows]
        fig, ax = plt.subplots(figsize=(7, 3.4))
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r["bleu"] for r in rows], 0.4, label="BLEU")
        ax.bar([x + 0.2 for x in xs], [r["chrf"] for r in rows], 0.4, label="chrF")
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.set_title("English -> Spanish, verses held out at random")
        ax.legend()
        _save(fig, "translation.png")
        plt.close(fig)
    speech = [(what, _load(n)) for n, what in SPEECH_RUNS]
    speech = [(w, d) for w, d in speech if d is not None]
    if speech:
        fig, ax = plt.subplots(figsize=(7, 3.4))
        xs = range(len(speech))
        ax.bar(
            [x - 0.2 for x in xs],
            [100 * d["metrics"]["test_beam+lm_wer"] for _, d in speech],
            0.4,
            label="test (voices seen in training)",
        )
        ax.bar(
            [x + 0.2 for x in xs],
            [100 * d["flite"]["beam+lm"]["wer"] for _, d in speech],
            0.4,
            label="flite voices (never seen)",
        )
        ax.set_xticks(list(xs), [w.split(",")[0] for w, _ in speech], fontsize=8)
        ax.set_ylabel("word error rate (%), beam + LM")
        ax.set_title("Spoken digit strings to text")
        ax.legend(fontsize=8)
        _save(fig, "speech.png")
        plt.close(fig)
    mel = _load("music-melody.json")
    if mel is not None:
        labels = ["LSTM", *mel["baselines_test"]]
        values = [mel["test"]["nll_per_note"], *(b["nll"] for b in mel["baselines_test"].values())]
        _bars(
            plt,
            "music-melody.png",
            "Bach melodies: test tunes never seen",
            "NLL per note (nats)",
            labels,
            values,
        )
    cap = _load("caption-shapes.json")
    if cap is not None:
        rows = [
            r
            for r in cap["rows"]
            if r["decoder"] in ("greedy", "slots") and r["run"].endswith(("-att", "noatt", "slots"))
        ]
        labels = [r["model"] for r in rows]
        values = [100 * r["scores"]["held_out"]["exact_match"] for r in rows]
        _bars(
            plt,
            "caption.png",
            "Captions of unseen shape pairs: exact match",
            "exact match (%)",
            labels,
            values,
        )


def generate() -> None:
    GENERATED.mkdir(parents=True, exist_ok=True)
    snippets = {
        **speed_tables(),
        "tasks": task_table(),
        "memory": memory_table(),
        "five-types": five_types(),
        **task_snippets(),
    }
    for name, text in snippets.items():
        _write_if_changed(GENERATED / f"{name}.md", text.encode("utf-8"))
    figures()


def on_pre_build(config: Any) -> None:  # mkdocs hook
    generate()


if __name__ == "__main__":
    generate()
    print(f"wrote {GENERATED} and {FIGURES}")
