"""archtrain list: tables of the models, the datasets, or the runs under a folder."""

USAGE = """Usage: archtrain list [models] [data] [runs [DIR]]

  models      every model with its paper, its default data and its parameter count
  data        every dataset with its modality and origin
  runs [DIR]  every run under DIR (default outputs/; searched for summary.json): status, task, model,
              data, the key metric (best and test value), epochs and time
With no argument: models and data.
"""


def run(arguments: list[str]) -> None:
    from archtrain.report.listing import show_listing  # rich loads here, not for archtrain --help

    show_listing(arguments)
