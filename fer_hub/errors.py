"""The one exception type for user mistakes: the CLI prints its message, never a traceback."""


class FerHubError(Exception):
    """A problem with the user's input (file, row, field, argument) that the message names."""
