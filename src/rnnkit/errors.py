"""The one exception type users see."""


class RnnkitError(Exception):
    """A user-facing error: the CLI prints its message as one line and exits with code 2."""


class DataError(RnnkitError):
    """A data file or data set that cannot be used: missing, empty, binary, not UTF-8, too small."""
