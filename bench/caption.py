"""Image captioning: score trained caption runs side by side (greedy and beam) on their test split.

The measuring code is rnnkit.benchmarks.caption (its docstring gives the training commands);
`--help` lists the options.
"""

from rnnkit.benchmarks.caption import main

if __name__ == "__main__":
    main()
