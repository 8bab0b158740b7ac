"""The Hub side of exporting a model folder: its model card (`model_card`); the folder itself is written by `modeling_xemogpt.hub`."""
