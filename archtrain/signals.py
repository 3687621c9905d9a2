"""SIGINT (Ctrl-C) and SIGTERM during a run: noted, so that the run stops where it can save its state.

From the moment a run starts until it ends, the first of these signals is only recorded;
`training.callbacks.StopOnSignal` acts on it at the next point where a checkpoint is consistent.
A second signal stops the run at once (the checkpoints already written are kept). No torch here:
the recording starts before torch loads.
"""

import signal
from contextlib import contextmanager
from typing import Iterator

from archtrain.errors import Stopped

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []  # the signals noted since the run started, in order
_taken: set[int] = set()  # the signals we handle (not those the shell told us to ignore)


def received() -> int | None:
    """The first signal noted since the run started, or None."""
    return _received[0] if _received else None


def _note(number: int, frame) -> None:
    _received.append(number)
    if len(_received) > 1:
        raise Stopped(f"{signal.Signals(number).name} received twice: stopped at once", number)


def take_handlers() -> None:
    """Handle SIGINT and SIGTERM here again, e.g. after a library replaced the handlers with its own."""
    for number in _taken:
        signal.signal(number, _note)


@contextmanager
def recording() -> Iterator[None]:
    """Note SIGINT and SIGTERM for the duration of the block, then put the old handlers back.
    A signal that is ignored (nohup, a background job) stays ignored."""
    previous = {number: signal.getsignal(number) for number in SIGNALS}
    _received.clear()
    _taken.clear()
    _taken.update(number for number, handler in previous.items() if handler is not signal.SIG_IGN)
    take_handlers()
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
