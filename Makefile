# The README's entry points. Each target does its own set-up on a fresh Debian 12 machine.
VENV   ?= .venv
PY     := $(VENV)/bin/python
BUILD  ?= build
PREFIX ?= $(CURDIR)/install
JOBS   ?= $(shell nproc)
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
export HYBRIDGE_BUILD := $(CURDIR)/$(BUILD)
export HYBRIDGE_PREFIX := $(PREFIX)

.PHONY: all deps build test demo bench clean
all: build

deps:
	bash scripts/install_deps.sh
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_PREFIX_PATH="$$($(PY) -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')" \
	  -DPython_EXECUTABLE=$(CURDIR)/$(PY) \
	  -Dpybind11_DIR="$$($(PY) -m pybind11 --cmakedir)" \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	cmake --install $(BUILD) > /dev/null

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2
	$(PY) -m pytest -q tests

demo: build
	bash scripts/demo.sh

bench: build
	bash scripts/bench.sh

clean:
	rm -rf $(BUILD) $(PREFIX)
