"""`pipeline("video-text-to-text", model=ID, trust_remote_code=True)`: a clip in, its cue-by-cue explanation out.

    pipe = pipeline("video-text-to-text", model="xemogpt/xemogpt-synth-tiny", trust_remote_code=True)
    pipe("clip.mp4", subtitle="I'm so glad you came.")[0]["generated_text"]
    pipe({"video": "clip.mp4", "audio": "voice.wav", "subtitle": "..."})       # a separate audio file
    pipe(text=[{"role": "user", "content": [{"type": "video", "path": "clip.mp4"}, {"type": "text", "text": "..."}]}])

The config names this class in `custom_pipelines`, so the task resolves through the model's remote code. It is the
any-to-any pipeline (chat input through `processor.apply_chat_template`, `generate`, decoding) with two changes:
its constructor does not demand torchvision (transformers asks for it because its video processors need it; ours
decodes with PyAV), and a clip given as a path or a dict is turned into the chat turn `xemogpt explain` builds.
"""

import os

from transformers.pipelines.any_to_any import AnyToAnyPipeline
from transformers.pipelines.base import Pipeline


class XEmoGPTPipeline(AnyToAnyPipeline):
    def __init__(self, *args, **kwargs):
        Pipeline.__init__(self, *args, **kwargs)  # AnyToAnyPipeline.__init__ only adds the torchvision requirement

    @staticmethod
    def clip_conversation(clip, subtitle=None) -> list[dict]:
        """A path or {"video", "audio", "subtitle"} -> the user turn of `xemogpt explain`."""
        if isinstance(clip, (str, os.PathLike)):
            clip = {"video": clip}
        content = []
        if clip.get("video") is not None:
            content.append({"type": "video", "path": os.fspath(clip["video"])})
        if clip.get("audio") is not None:
            audio = clip["audio"]
            content.append({"type": "audio", **({"path": os.fspath(audio)} if isinstance(audio, (str, os.PathLike)) else {"audio": audio})})
        content.append({"type": "text", "text": clip.get("subtitle", subtitle) or ""})
        return [{"role": "user", "content": content}]

    def __call__(self, inputs=None, subtitle=None, **kwargs):
        """`inputs`: a clip path, a dict {"video", "audio"?, "subtitle"?}, or a list of those; or chat messages as
        `text=` (any-to-any). Clips return the explanation alone as `generated_text`."""
        is_clip = isinstance(inputs, (str, os.PathLike, dict))
        is_clips = isinstance(inputs, (list, tuple)) and inputs and all(isinstance(i, (str, os.PathLike, dict)) for i in inputs)
        if is_clip or is_clips:
            chats = [self.clip_conversation(c, subtitle) for c in ([inputs] if is_clip else inputs)]
            kwargs.setdefault("return_full_text", False)
            return super().__call__(text=chats if is_clips else chats[0], **kwargs)
        if inputs is not None:
            kwargs["text"] = inputs
        return super().__call__(**kwargs)
