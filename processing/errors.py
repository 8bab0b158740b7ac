"""Errors a user can cause. Each carries one line that says what was wrong and where.

`XEmoGPTError` and `MediaError` are defined with the media decoder in the model folder's remote code
(`modeling_xemogpt/media_xemogpt.py`), which raises them too; they are the same classes here.
"""

from modeling_xemogpt.media_xemogpt import MediaError, XEmoGPTError

__all__ = ["DatasetError", "MediaError", "XEmoGPTError"]


class DatasetError(XEmoGPTError):
    """A dataset, row or annotation file that does not follow the EmoCue schema."""
