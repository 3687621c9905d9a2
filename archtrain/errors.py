"""Errors a user can cause: shown as one line, never as a traceback."""


class ArchtrainError(Exception):
    """A problem with the user's input (config, data, checkpoint): its message is the whole story."""

    exit_code = 2
