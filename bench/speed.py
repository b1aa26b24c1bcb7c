"""The speed suite: rnnkit vs torch.nn (and Keras), at 1 and 2 threads.

The measuring code is rnnkit.benchmarks.speed; `--help` lists the options.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before anything imports keras

from rnnkit.benchmarks.speed import main

if __name__ == "__main__":
    main()
