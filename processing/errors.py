"""Errors a user can cause. Each carries one line that says what was wrong and where.

`XEmoGPTError` and `MediaError` are defined with the media decoder in the model folder's remote code
(`modeling_xemogpt/media_xemogpt.py`), which raises them too; they are the same classes here.
"""

from contextlib import contextmanager

from modeling_xemogpt.media_xemogpt import MediaError, XEmoGPTError

__all__ = ["DatasetError", "MediaError", "XEmoGPTError", "reading_text"]


class DatasetError(XEmoGPTError):
    """A dataset, row or annotation file that does not follow the EmoCue schema."""


@contextmanager
def reading_text(path):
    """Around the reading of a text file the user gave: a file that is not UTF-8 becomes one DatasetError line
    naming it and the first bad byte (instead of a UnicodeDecodeError traceback)."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                           "save it as UTF-8") from None
