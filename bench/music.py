"""Music (issue 18): NLL beside n-gram baselines and the musical checks beside Bach's.

The measuring code is rnnkit.benchmarks.music (its docstring gives the commands);
`--help` lists the options.
"""

from rnnkit.benchmarks.music import main

if __name__ == "__main__":
    main()
