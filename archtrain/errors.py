"""Errors a user can cause: shown as one line, never as a traceback."""


class ArchtrainError(Exception):
    """A problem with the user's input (config, data, checkpoint): its message is the whole story."""

    exit_code = 2


class Diverged(ArchtrainError):
    """The training loss stopped being a finite number."""

    exit_code = 3


class Stopped(ArchtrainError):
    """A signal (SIGINT, SIGTERM) stopped the run after a checkpoint was saved."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.exit_code = 128 + signal_number
