# The build both layers share (`BuildMethod: makefile`; sam build runs `make build-<LogicalId>`, ARTIFACTS_DIR set).
# Wheels for Lambda's platform go under python/ (no compiling on install), then the layer's own package; test
# directories are stripped, and everything is compiled once to unchecked-hash .pyc: Lambda's /opt is read-only,
# so without them every cold start compiles botocore, pydantic, numpy and Powertools from source.
PYTHON ?= python3.13
LAYER_DIR := $(dir $(abspath $(firstword $(MAKEFILE_LIST))))
TARGET = $(ARTIFACTS_DIR)/python

define build_layer
	rm -rf "$(TARGET)" && mkdir -p "$(TARGET)"
	$(PYTHON) -m pip install --quiet --no-compile --disable-pip-version-check --target "$(TARGET)" \
		--implementation cp --python-version 3.13 --abi cp313 \
		--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --only-binary=:all: \
		-r "$(LAYER_DIR)requirements.txt"
	cp -R "$(LAYER_DIR)$(1)" "$(TARGET)/"
	find "$(TARGET)" -depth -type d \( -name __pycache__ -o -name tests \) -exec rm -rf {} +
	rm -rf "$(TARGET)"/bin
	$(PYTHON) -m compileall -q -f -j 0 --invalidation-mode unchecked-hash "$(TARGET)"
endef
# A layer's own steps may follow $(call build_layer,…): ScorerLayer compiles its kernel (compile_kernel.py).
# `sam build --cached` keys a makefile build on its ContentUri folder: after changing this file alone, run
# `sam build` once without --cached (or touch the layers' Makefiles).
