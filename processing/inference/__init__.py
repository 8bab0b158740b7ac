"""From a clip to its explanation: one clip (`explain`), a dataset split in batches (`predict`), a long clip as a
timeline (`timeline`, `timeline_media`, `timeline_chart`), which input each cue rests on (`attribution`), automatic
subtitles (`asr`) and the quantized language model (`quantization`)."""
