# dump: make build | make test | make bench | make demo
GO      ?= go
BIN     := bin/dump
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test bench demo fuzz clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/dump

# All tests: unit, interop (age/zstd/tar CLIs), real journals, MinIO, fake GCS,
# then a bounded run of each fuzzer.
test:
	scripts/test.sh

fuzz:
	scripts/fuzz.sh 60s

# Benchmarks; results and the commands that produced them go to BENCHMARKS.md.
bench: build
	scripts/bench.sh

# keygen, gather this host, seal, upload to file://./demo/bucket, decrypt back.
# The clock starts before the build, so the time it reports is the time you waited.
demo:
	@DEMO_START=$$(date +%s%N) && $(MAKE) --no-print-directory build && DEMO_START=$$DEMO_START scripts/demo.sh

clean:
	rm -rf bin demo
