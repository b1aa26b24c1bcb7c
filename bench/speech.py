"""Speech-to-text and keyword spotting, trained and measured on unseen voices.

The measuring code is rnnkit.benchmarks.speech (its docstring gives the commands);
`--help` lists the options.
"""

from rnnkit.benchmarks.speech import main

if __name__ == "__main__":
    main()
