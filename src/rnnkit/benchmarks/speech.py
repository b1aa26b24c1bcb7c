"""Speech-to-text and keyword spotting, trained and measured on unseen voices.

    OMP_NUM_THREADS=1 .venv/bin/python bench/speech.py speech --out runs/asr --result speech-bigru.json
    ... speech --out runs/asr-lstm --set cell=lstm --result speech-bilstm.json
    ... commands --out runs/kws --set data=spoken_words --result commands-words.json

Trains through the task's own ``train(config, options)`` (resuming a run directory that is
already there), then measures with its predictor: for speech, WER/CER of greedy, prefix beam and
beam + word LM on the espeak-ng test voices and on digit strings from Flite (a synthesiser never
trained on), and the real-time factor of ``transcribe`` at 1 thread (compute seconds per second of
audio, median over test clips, greedy and beam+LM measured alternately); for commands, accuracy
and the confusion matrix on the test voices. Prints a table and writes bench/results/<result>.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from rnnkit.benchmarks.common import RESULTS
from rnnkit.config import parse_value
from rnnkit.tasks import runs


def overrides(pairs: list[str], config_cls: Any) -> dict[str, Any]:
    from rnnkit.config import field_types

    hints = field_types(config_cls)
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = parse_value(key, value, hints.get(key, str))
    return out


def rtf(predictor: Any, waves: list[Any], calls: dict[str, Any]) -> dict[str, float]:
    """Median compute / audio seconds per clip for each way of calling, alternating A, B, A, B."""
    from rnnkit.data.audio import write_wav

    tmp = Path("/tmp") / f"rnnkit-bench-speech-{time.time_ns()}.wav"
    ratios: dict[str, list[float]] = {k: [] for k in calls}
    for w in waves:
        write_wav(tmp, w, 16_000)
        data = tmp.read_bytes()
        for name, fn in calls.items():
            t = fn(data)
            ratios[name].append(t.compute_seconds / (len(w) / 16_000))
    tmp.unlink(missing_ok=True)
    return {k: round(statistics.median(v), 5) for k, v in ratios.items()}


def bench_speech(config: Any, out: Path, flite: int) -> dict[str, Any]:
    from rnnkit.datasets.digit_strings import flite_strings
    from rnnkit.tasks.speech.data import load_speech
    from rnnkit.tasks.speech.predictor import Transcriber
    from rnnkit.tasks.speech.train import train

    metrics = train(config, runs.TrainOptions(out=out, quiet=True, threads=1))
    model = Transcriber.load(out)
    result: dict[str, Any] = {"metrics": metrics}
    waves, texts, voices = flite_strings(flite)
    result["flite"] = {
        "utterances": len(texts),
        "voices": sorted(set(voices)),
        **{
            name: model.score(waves, texts, beam=beam, lm=lm)
            for name, beam, lm in (
                ("greedy", 0, False),
                ("beam", config.beam, False),
                ("beam+lm", config.beam, True),
            )
        },
    }
    data = load_speech(config.data, model.frontend)
    # beam width 1 == greedy on the trained model's (peaky) outputs, utterance by utterance
    from rnnkit.tasks.speech.evaluate import Decoder, log_probs_of

    lps = log_probs_of(model.model, [model.frontend.features(w) for w in data.waves["test"]])
    same = sum(Decoder(model.alphabet, beam=1)(lp) == Decoder(model.alphabet)(lp) for lp in lps)
    result["beam1_equals_greedy"] = f"{same}/{len(lps)} test utterances"
    test = data.waves["test"][:60]
    result["real_time_factor_1_thread"] = rtf(
        model,
        test,
        {
            "greedy": lambda d: model.transcribe(d, beam=0),
            f"beam+lm ({config.beam})": lambda d: model.transcribe(d, beam=config.beam),
        },
    )
    return result


def bench_commands(config: Any, out: Path) -> dict[str, Any]:
    from rnnkit.tasks.commands.predictor import CommandRecognizer
    from rnnkit.tasks.commands.train import train

    metrics = train(config, runs.TrainOptions(out=out, quiet=True, threads=1))
    model = CommandRecognizer.load(out)
    from rnnkit.datasets.digit_strings import FLITE_VOICES, flite_speak
    from rnnkit.tasks.commands.data import load_commands

    data = load_commands(config.data)
    # every command word from every Flite voice: a synthesiser the model never heard
    words = [c for c in model.classes if not c.startswith("_")]
    pairs = [(w, v) for w in words for v in FLITE_VOICES]
    waves = flite_speak([w for w, _ in pairs], [v for _, v in pairs])
    heard = [model.recognize(_wav_bytes(x)).command for x in waves]
    correct = sum(h == w for h, (w, _) in zip(heard, pairs, strict=True))
    flite = {
        "clips": len(pairs),
        "accuracy": round(correct / len(pairs), 4),
        "errors": [f"{w} ({v}) -> {h}" for h, (w, v) in zip(heard, pairs, strict=True) if h != w],
    }
    test = data.waves["test"][:60]
    rt = rtf(model, test, {"recognize": model.recognize})
    return {"metrics": metrics, "flite": flite, "real_time_factor_1_thread": rt}


def _wav_bytes(wave: Any) -> bytes:
    import io

    from scipy.io import wavfile

    buf = io.BytesIO()
    wavfile.write(buf, 16_000, wave)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task", choices=["speech", "commands"])
    p.add_argument("--out", required=True, type=Path, help="the run directory (resumed if there)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config field")
    p.add_argument("--flite", type=int, default=100, help="Flite digit strings to score (speech)")
    p.add_argument("--result", default="", help="file name under bench/results ('' = none)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.task == "speech":
        from rnnkit.tasks.speech.config import SpeechConfig as Cfg
    else:
        from rnnkit.tasks.commands.config import CommandsConfig as Cfg  # type: ignore[assignment]
    config = Cfg.from_dict(overrides(args.set, Cfg))
    t0 = time.perf_counter()
    result = (
        bench_speech(config, args.out, args.flite)
        if args.task == "speech"
        else bench_commands(config, args.out)
    )
    result["command"] = "python bench/speech.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    result["config"] = config.to_dict()
    result["environment"] = {
        "torch": torch.__version__,
        "threads": 1,
        "wall_seconds": round(time.perf_counter() - t0),
    }
    m = result["metrics"]
    print(f"trained {m['train_seconds_total']:.0f} s in all, {m['parameters']:,} parameters")
    if args.task == "speech":
        print(f"{'decoder':<10} {'test WER':>9} {'test CER':>9} {'Flite WER':>10}")
        for dec in ("greedy", "beam", "beam+lm"):
            fw = result["flite"][dec]["wer"]
            print(f"{dec:<10} {m[f'test_{dec}_wer']:>9.2%} {m[f'test_{dec}_cer']:>9.2%} {fw:>10.2%}")
    else:
        acc = (m["test_accuracy"], m["validation_accuracy"], result["flite"]["accuracy"])
        print("test accuracy {:.2%}  (validation {:.2%}; Flite voices {:.2%})".format(*acc))
    print("real-time factor, 1 thread:", result["real_time_factor_1_thread"])
    if args.result and args.task == "commands":  # the confusion matrix beside the JSON
        from rnnkit.tasks.commands.train import CONFUSION_FILE
        from rnnkit.utils.io import atomic_write

        png = RESULTS / args.result.replace(".json", "-confusion.png")
        atomic_write(png, (args.out / CONFUSION_FILE).read_bytes())
        result["confusion_png"] = f"bench/results/{png.name}"
    if args.result:
        from rnnkit.utils.io import atomic_write_json

        atomic_write_json(RESULTS / args.result, result)
        print(f"wrote {RESULTS / args.result}")


if __name__ == "__main__":
    main()
