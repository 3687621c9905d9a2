"""The verbs that act on a finished run: each module has a one-line docstring, a USAGE text and
`run(arguments)`. cli.VERBS maps a verb's name to its module; torch loads inside `run` only."""
