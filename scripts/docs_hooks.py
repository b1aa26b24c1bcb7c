"""The docs site's tables and figures, made from the recorded results in bench/results/.

Nothing on the site is typed in by hand: ``mkdocs build`` runs :func:`on_pre_build`, which
reads ``bench/results/*.json`` and writes Markdown snippets to ``docs/generated/`` (pulled into
pages with ``--8<-- "generated/NAME.md"``) and PNG figures to ``docs/figures/``. Each snippet
names the results file and the command that made it. Run it alone with
``python scripts/docs_hooks.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
GENERATED = ROOT / "docs" / "generated"
FIGURES = ROOT / "docs" / "figures"


def _load(name: str) -> Any | None:
    path = RESULTS / name
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


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
    return _table(["task", "result", "results file"], rows)


def memory_table() -> str:
    parts = []
    for task in ("adding", "copy"):
        data = _load(f"memory-{task}.json")
        if data is None:
            continue
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
        fig.savefig(FIGURES / "vanishing-gradients.png", dpi=110)
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
        fig.savefig(FIGURES / "five-types.png", dpi=110)
        plt.close(fig)


def generate() -> None:
    GENERATED.mkdir(parents=True, exist_ok=True)
    snippets = {**speed_tables(), "tasks": task_table(), "memory": memory_table(), "five-types": five_types()}
    for name, text in snippets.items():
        (GENERATED / f"{name}.md").write_text(text, encoding="utf-8")
    figures()


def on_pre_build(config: Any) -> None:  # mkdocs hook
    generate()


if __name__ == "__main__":
    generate()
    print(f"wrote {GENERATED} and {FIGURES}")
