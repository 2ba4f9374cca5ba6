# Build, test and run the mobility anchor. `make test` and `make demo` set up what they need.
SHELL := /bin/bash
CLANG ?= clang-19
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -I/usr/include/$(shell uname -m)-linux-gnu
BPF_SRC := $(wildcard bpf/*.c)
BPF_OBJ := $(BPF_SRC:bpf/%.c=build/bpf/%.o)
BPF_HDR := $(wildcard bpf/*.h bpf/lib/*.h)
# the native half of BU prediction (control/ha/prediction.ts), and its header's BTF for the layout test;
# the signalling ring buffer's drain (control/dataplane/signals.ts)
NATIVE := build/native/libpredictor.so build/native/predictor-btf.o build/native/libsignals.so

.PHONY: all setup bpf native ts test demo bench clean
all: bpf native ts

setup:
	@bash scripts/setup.sh

bpf: $(BPF_OBJ)
build/bpf/%.o: bpf/%.c $(BPF_HDR)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
build/bpf/bench.o: bpf/anchor.c # it includes the anchor's programs

native: $(NATIVE)
build/native/libpredictor.so: native/predictor.c native/predictor.h
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -Wall -Wextra -Werror -fPIC -shared $< -o $@ -l:libcrypto.so.3
build/native/libsignals.so: native/signals.c
	@mkdir -p $(@D)
	$(CLANG) -O2 -g -Wall -Wextra -Werror -fPIC -shared $< -o $@ -l:libbpf.so.1
build/native/predictor-btf.o: native/predictor.h
	@mkdir -p $(@D)
	printf '#include "predictor.h"\nstruct predicted btf_predicted;\n' | $(CLANG) $(BPF_CFLAGS) -Inative -x c -c - -o $@

ts:
	npx tsc -p tsconfig.json

test: setup bpf native ts
	@mkdir -p build
	npx vitest run --reporter=default --reporter=json --outputFile.json=build/test-results.json; \
	  status=$$?; node scripts/test-summary.mjs build/test-results.json; exit $$status

demo: setup bpf native ts
	node dist/control/cli/demo.js

bench: setup bpf native ts
	node --expose-gc --max-semi-space-size=32 --single-threaded-gc dist/bench/run.js # as dsmipd runs (its bin, the systemd unit)

clean:
	rm -rf build dist
