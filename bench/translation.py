"""English -> Spanish translation against Apertium on two splits, and decoding speed.

The measuring code is rnnkit.benchmarks.translation; `--help` lists the commands and options.
"""

from rnnkit.benchmarks.translation import main

if __name__ == "__main__":
    main()
