# ocni — the two commands that matter are `make run` and `make test`.

GO            ?= go
GOLANGCI_LINT ?= $(shell command -v golangci-lint 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/golangci-lint)
GOLANGCI_VERSION ?= v2.15.0
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -X github.com/ocni/ocni/server.Version=$(VERSION)
BENCHTIME     ?= 1s

.PHONY: run build test test-deps vet lint bench soak crashtest fuzz clean

## run: start ocnid on 127.0.0.1:8090 with ./data/ocni.db and the dummy provider
run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/ocnid $(ARGS)

## build: build bin/ocnid
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ocnid ./cmd/ocnid

## test: install what the tests need if missing, then run every test with -race
## (the libvirt tests run on their own, so that their count shows in the log)
test: test-deps vet
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /backends/libvirt)
	@$(GO) test -race -count=1 -v ./backends/libvirt/ > .libvirt-test.log 2>&1 || { cat .libvirt-test.log; exit 1; }
	@grep -E '^(libvirt:|ok )' .libvirt-test.log

## test-deps: the tests' system dependencies, installed if missing (Debian): curl, and a running libvirtd;
## where /dev/kvm exists, what qemu:///system needs to boot the QEMU smoke test's guest
test-deps:
	@$(GO) version >/dev/null
	@command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl; }
	@{ command -v virsh >/dev/null && virsh -c 'test+unix:///default' list >/dev/null 2>&1; } || scripts/libvirtd-test-setup.sh
	@if [ -e /dev/kvm ]; then scripts/libvirt-qemu-setup.sh; fi

vet:
	$(GO) vet ./...

## lint: golangci-lint with .golangci.yml (installed into GOPATH/bin if missing)
lint:
	@test -x "$(GOLANGCI_LINT)" || GOFLAGS= $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	$(GOLANGCI_LINT) run ./...

## bench: the load benchmark (ocnid vs a bare baseline server, same run), then every Go benchmark
BENCH_ARGS ?=
bench: build
	$(GO) build -o bin/ocni-bench ./cmd/ocni-bench
	bin/ocni-bench -ocnid bin/ocnid -report bench-report.json $(BENCH_ARGS)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

## fuzz: run each fuzz target for FUZZTIME (10m by default); a crasher is saved under the package's testdata/fuzz/
FUZZTIME    ?= 10m
FUZZTARGETS ?= FuzzDecodeTextPlain FuzzDecodeTextOCCIHeaders FuzzDecodeJSON FuzzParseCategoryHeader FuzzCheckURI
fuzz:
	@set -e; for t in $(FUZZTARGETS); do \
		echo "== $$t ($(FUZZTIME))"; \
		pkg=./renderers/; [ "$$t" = FuzzCheckURI ] && pkg=./occi/; \
		$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s $$pkg; \
	done

## soak: a mixed load for SOAK_DURATION, failing if memory or goroutines grow more than 10% (CI: 1m)
SOAK_DURATION ?= 10m
soak: build
	$(GO) build -o bin/ocni-bench ./cmd/ocni-bench
	bin/ocni-bench -ocnid bin/ocnid -c 8 -soak $(SOAK_DURATION) -report soak-report.json

## crashtest: kill -9 ocnid at random moments under load, CRASH_ROUNDS times (CI runs a few)
CRASH_ROUNDS ?= 25
crashtest:
	OCNI_CRASH_ROUNDS=$(CRASH_ROUNDS) $(GO) test -count=1 -run 'TestKill9Durability|TestKill9MixedOperations|TestCrashBetweenVIMAndCommit' -v ./cmd/ocnid

clean:
	rm -rf bin data
