"""Is data loading ever the bottleneck? Tokenizing and batching IMDB vs one training step.

The measuring code is rnnkit.benchmarks.data_throughput; `--help` lists the options.
"""

from rnnkit.benchmarks.data_throughput import main

if __name__ == "__main__":
    main()
