"""Measured quality of the text tasks: IMDB/tweets sentiment, PTB word LM, Shakespeare char LM,

The measuring code is rnnkit.benchmarks.text_tasks; `--help` lists the options.
"""

from rnnkit.benchmarks.text_tasks import main

if __name__ == "__main__":
    main()
