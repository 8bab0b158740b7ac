"""Settings shared by the benchmarks that build a mid-size random XEmoGPT (bench_inference, bench_memory)."""

# Encoders big enough for the timings to mean something on a CPU, small enough to build in seconds.
VISION = dict(model_type="clip_vision_model", hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
              num_attention_heads=4, image_size=224, patch_size=32)
AUDIO = dict(model_type="hubert", hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
             conv_dim=[256] * 7, feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True,
             num_conv_pos_embeddings=32, num_conv_pos_embedding_groups=16)
