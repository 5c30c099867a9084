"""Exceptions that carry a message meant for the user.

Entry points catch :class:`ParcError` and print its message as one line before exiting with a
non-zero status; library code raises them instead of printing and carrying on.
"""


class ParcError(Exception):
    """Base class of the errors this project reports to the user."""


class ConfigError(ParcError):
    """A bad option value, YAML key or configuration file."""


class DataError(ParcError):
    """A missing, empty or unreadable data set or image."""


class CheckpointError(ParcError):
    """A missing, corrupt or mismatching checkpoint file."""


class TrainingError(ParcError):
    """Training cannot go on (for instance the loss is no longer finite)."""


class UndeclaredOptionError(ConfigError, AttributeError):
    """A component read an option that no component declares (a programming error, reported
    with the key and the reader)."""


class TrainingInterrupted(ParcError):
    """Training stopped on a signal after saving a resumable checkpoint; ``exit_code`` is the
    shell's convention for that signal (128 + its number)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class ExportError(ParcError):
    """An exported model could not be written, or its outputs differ from the model's."""


class OutputExistsError(ParcError):
    """A file or folder a command would write exists already, and the option that lets the command
    replace it was not given."""
