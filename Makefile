# Build, test and run the mobility anchor. `make test` and `make demo` set up what they need.
SHELL := /bin/bash
CLANG ?= clang-19
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -I/usr/include/$(shell uname -m)-linux-gnu
BPF_SRC := $(wildcard bpf/*.c)
BPF_OBJ := $(BPF_SRC:bpf/%.c=build/bpf/%.o)
BPF_HDR := $(wildcard bpf/*.h bpf/lib/*.h)

.PHONY: all setup bpf ts test demo bench clean
all: bpf ts

setup:
	@bash scripts/setup.sh

bpf: $(BPF_OBJ)
build/bpf/%.o: bpf/%.c $(BPF_HDR)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
build/bpf/bench.o: bpf/anchor.c # it includes the anchor's programs

ts:
	npx tsc -p tsconfig.json

test: setup bpf ts
	@mkdir -p build
	npx vitest run --reporter=default --reporter=json --outputFile.json=build/test-results.json; \
	  status=$$?; node scripts/test-summary.mjs build/test-results.json; exit $$status

demo: setup bpf ts
	node dist/control/cli/demo.js

bench: setup bpf ts
	node --expose-gc --max-semi-space-size=64 dist/bench/run.js # as dsmipd runs (its bin, the systemd unit)

clean:
	rm -rf build dist
