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
# AOTInductor packages (.pt2) the tests and benchmarks compile, kept per model and torch
# version (hybridge.export.pt2_cache): each is compiled once, not on every run.
export HYBRIDGE_PT2_CACHE ?= $(CURDIR)/$(BUILD)/pt2_cache
# One build, the same one `pip install .` does (scikit-build-core, pyproject.toml), kept in
# ./build with the tests and benchmarks on; the package is installed editable in .venv.
export SKBUILD_BUILD_DIR := $(CURDIR)/$(BUILD)
export SKBUILD_CMAKE_DEFINE := HYBRIDGE_BUILD_TESTS=ON;HYBRIDGE_BUILD_BENCH=ON;HYBRIDGE_BUILD_PYTHON=ON;HYBRIDGE_WARNINGS_AS_ERRORS=ON
export CMAKE_BUILD_PARALLEL_LEVEL := $(JOBS)

.PHONY: all deps build test lint format docs demo bench clean
all: build

deps:
	bash scripts/install_deps.sh

build: deps
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	cmake --install $(BUILD) --prefix $(PREFIX) > /dev/null

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2
	$(PY) -m pytest -q tests

# Formatters (check mode) and linters; `make format` applies the formatters and safe fixes.
lint: build
	bash scripts/lint.sh

format: deps
	bash scripts/lint.sh --fix

# The API reference (FORD, Doxygen, pdoc) into docs/_build; fails on undocumented public API.
docs: build
	bash scripts/docs.sh

demo: build
	bash scripts/demo.sh

bench: build
	bash scripts/bench.sh

clean:
	rm -rf $(BUILD) $(PREFIX)
