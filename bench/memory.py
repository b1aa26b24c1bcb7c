"""Long-memory benchmark results: merge the runs of ``rnnkit bench memory`` into one table and plot.

The measuring code is rnnkit.benchmarks.memory; `--help` lists the options.
"""

from rnnkit.benchmarks.memory import main

if __name__ == "__main__":
    main()
