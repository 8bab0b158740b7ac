"""Data: the EmoCue record format, loading, TRL views and dataset cards (`emocue`), and the generated corpus EmoCue-Synth (`synth`)."""
