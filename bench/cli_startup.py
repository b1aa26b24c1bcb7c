"""How long `rnnkit --help` and `rnnkit <command> --help` take (target: under 0.5 s).

The measuring code is rnnkit.benchmarks.cli_startup; `--help` lists the options.
"""

from rnnkit.benchmarks.cli_startup import main

if __name__ == "__main__":
    main()
