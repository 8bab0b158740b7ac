"""XEmoGPT as a transformers model folder. Importing it registers the classes with the Auto* factories:
`AutoConfig`, `AutoModel`, `AutoModelForImageTextToText` and `AutoModelForMultimodalLM` (all give the
generation-capable model, as with other remote-code multimodal models), `AutoProcessor`, and the
"video-text-to-text" pipeline. The module files register themselves for remote code (`register_for_auto_class`),
so every `save_pretrained` writes `auto_map` and copies the code."""

from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoModelForMultimodalLM, AutoProcessor

from .configuration_xemogpt import XEmoGPTConfig
from .modeling_xemogpt import (
    AudioEmotionalCueBridge,
    VideoEmotionalCueBridge,
    XEmoGPTForConditionalGeneration,
    XEmoGPTModel,
    XEmoGPTPreTrainedModel,
)
from .processing_xemogpt import XEmoGPTProcessor, add_placeholder_tokens

AutoConfig.register("xemogpt", XEmoGPTConfig, exist_ok=True)
AutoModel.register(XEmoGPTConfig, XEmoGPTForConditionalGeneration, exist_ok=True)
AutoModelForImageTextToText.register(XEmoGPTConfig, XEmoGPTForConditionalGeneration, exist_ok=True)
AutoModelForMultimodalLM.register(XEmoGPTConfig, XEmoGPTForConditionalGeneration, exist_ok=True)
AutoProcessor.register(XEmoGPTConfig, XEmoGPTProcessor, exist_ok=True)

__all__ = [
    "AudioEmotionalCueBridge",
    "VideoEmotionalCueBridge",
    "XEmoGPTConfig",
    "XEmoGPTForConditionalGeneration",
    "XEmoGPTModel",
    "XEmoGPTPreTrainedModel",
    "XEmoGPTProcessor",
    "add_placeholder_tokens",
]
