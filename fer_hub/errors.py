"""The exceptions for user mistakes: the CLI prints their message, never a traceback."""


class FerHubError(Exception):
    """A problem with the user's input (file, row, field, argument) that the message names."""


class ParameterError(FerHubError):
    """A bad value of one parameter of a library function. The message names the parameter (`max_steps: must be at
    least 1`); the CLI names the flag that sets it instead (`--max-steps: must be at least 1`)."""

    def __init__(self, parameter: str, problem: str):
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter}: {problem}")
