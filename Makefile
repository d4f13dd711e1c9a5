# The two commands of the README: `make demo` and `make test`. Each installs
# missing Debian packages first (scripts/install-deps.sh is idempotent).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test bench clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/leafguard demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE 'soak|integration-long'

bench: build
	bash scripts/bench.sh

clean:
	rm -rf $(BUILD)
