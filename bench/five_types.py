"""The five types of RNN on one dataset (the guide's chapter 4): accuracy and training time.

    OMP_NUM_THREADS=1 .venv/bin/python bench/five_types.py            # ~15 min on one core
    .venv/bin/python bench/five_types.py --train-samples 500 --test-samples 200 --epochs 1  # a smoke run

Writes bench/results/five-types.json (the docs site's table and figure are made from it).
The measuring code is rnnkit.benchmarks.five_types; `--help` lists the options.
"""

from rnnkit.benchmarks.five_types import main

if __name__ == "__main__":
    main()
