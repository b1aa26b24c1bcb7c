"""fit's overhead: ``model.fit`` against a hand-written PyTorch loop, same model, same data.

The measuring code is rnnkit.benchmarks.fit_overhead; `--help` lists the options.
"""

from rnnkit.benchmarks.fit_overhead import main

if __name__ == "__main__":
    main()
