"""Fused-path overhead: rnnkit's layers against torch.nn (and Keras 3 on its torch backend).

The measuring code is rnnkit.benchmarks.layers_overhead; `--help` lists the options.
"""

from rnnkit.benchmarks.layers_overhead import main

if __name__ == "__main__":
    main()
