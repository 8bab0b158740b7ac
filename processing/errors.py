"""Errors a user can cause. Each carries one line that says what was wrong and where."""


class XEmoGPTError(Exception):
    """Base class for user-facing errors: the CLI prints the message as one line and exits non-zero."""


class MediaError(XEmoGPTError):
    """A video or audio file that cannot be used (missing, empty, corrupt, no usable stream)."""


class DatasetError(XEmoGPTError):
    """A dataset, row or annotation file that does not follow the EmoCue schema."""
