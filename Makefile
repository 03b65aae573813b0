# SPDX-License-Identifier: GPL-2.0
#
# sch_plug: a Rust-for-Linux port of the plug qdisc.
#
#   make            build sch_plug.ko (installs what is missing, builds the
#                   debug kernel into the cache the first time)
#   make run        the output-commit demo: Remus topology, live checkpoints,
#                   a verdict from real packets, a timeline picture
#                   (MODULE=c: the same on the kernel's C sch_plug;
#                   EPOCH_MS=50 ACK_MS=120 SECONDS=20 RATE=400)
#   make check      host tests, module build, lint, the in-guest test suite
#                   (TESTS="t-remus t-tdc" runs only those guest tests)
#   make stress     the long reliability runs (1,000,000 fuzzed messages,
#                   2-minute SMP runs, 100 module lifecycles); RELIABILITY.md
#   make bench      C vs Rust plug on the qdisc path, perf kernel, QEMU -icount
#   make deb        a Debian package of the module (KERNEL=debian: for
#                   Debian 13's own linux-image-7.3.x+deb13-amd64)
#   make fmt        rustfmt with the kernel's .rustfmt.toml
#   make lint       rustfmt --check and CLIPPY=1, failing on any warning
#   make clean
#
# Against your own Rust-enabled kernel build: make KDIR=/path/to/build
# (then also pass the RUSTC/BINDGEN it was built with, if not ours).
#
# KERNEL=6.12|7.3 selects the kernel line for every target (default 6.12:
# Debian 12's linux-source-6.12 with the machine's LLVM; 7.3: trixie-backports'
# linux-source-7.3 with the Debian 12 LLVM of rustc's major version, LLVM=-22;
# scripts/lib.sh). KERNEL=debian: Debian's own 7.3 kernel, unmodified, for
# make, make deb, make check and make run (scripts/debian.sh).

FLAVOUR ?= debug
KERNEL ?= 6.12
SCRIPTS := $(CURDIR)/scripts
RUSTC ?= /usr/bin/rustc

ifeq ($(KERNEL),6.12)
KLLVM := 1
else ifeq ($(KERNEL),7.3)
# rustc's LLVM major (22 before rustc is installed), as scripts/lib.sh.
KLLVM := -$(or $(shell $(RUSTC) --version --verbose 2>/dev/null | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p'),22)
else ifeq ($(KERNEL),debian)
# Debian's own kernel: built with GCC, the module in a trixie root
# (scripts/debian.sh).
KLLVM :=
else
$(error unknown KERNEL '$(KERNEL)' (have: 6.12, 7.3, debian))
endif
# The scripts read the line from the environment.
export KERNEL
# bindgen loads the newest libclang on the machine unless told: the line's
# own (as scripts/lib.sh does).
ifeq ($(origin LIBCLANG_PATH),undefined)
LIBCLANG_PATH := $(shell llvm-config$(filter-out 1,$(KLLVM)) --libdir 2>/dev/null)
endif
ifneq ($(LIBCLANG_PATH),)
export LIBCLANG_PATH
endif

ifeq ($(origin KDIR), undefined)
# Our cached kernel; `prepare` builds it if needed ($(shell) of make 4.3
# does not see exported variables: KERNEL is passed by hand).
KDIR = $(shell KERNEL=$(KERNEL) $(SCRIPTS)/kernel.sh --dir $(FLAVOUR))
PREPARE = prepare
endif

RUSTDOC ?= /usr/bin/rustdoc
RUSTFMT ?= /usr/bin/rustfmt
CLIPPY_DRIVER ?= /usr/bin/clippy-driver
CACHE ?= $(or $(SCH_PLUG_CACHE),$(HOME)/.cache/sch-plug)
# Pinned per line, as in scripts/lib.sh.
BINDGEN ?= $(CACHE)/tools/$(if $(filter 7.3,$(KERNEL)),bindgen-0.72.1/)bin/bindgen
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(KLLVM) RUSTC=$(RUSTC) RUSTDOC=$(RUSTDOC) \
	RUSTFMT=$(RUSTFMT) CLIPPY_DRIVER=$(CLIPPY_DRIVER) BINDGEN=$(BINDGEN)

RUST_SOURCES := module.rs sch_plug.rs epoch.rs $(wildcard qdisc/*.rs) samples/rbfifo.rs samples/pinned.rs samples/doctests.rs

.PHONY: all module deb prepare deps kernel run check stress bench test-host fmt lint clean

all: module

deps:
	@$(SCRIPTS)/deps.sh

prepare: deps
	@$(SCRIPTS)/kernel.sh $(FLAVOUR) >/dev/null

kernel: prepare

ifeq ($(KERNEL),debian)
# Outside the checkout, with Debian's compilers; prints the .ko's path.
module: $(PREPARE)
	@$(SCRIPTS)/build-module.sh $(FLAVOUR)
else
module: $(PREPARE)
	+$(KMAKE) modules
endif

# make deb: a Debian package of the module for the line's kernel
# (KERNEL=debian: Debian's linux-image-7.3.x+deb13-amd64); prints its path.
deb: $(PREPARE)
	@$(SCRIPTS)/deb.sh $(FLAVOUR)

fmt: $(PREPARE)
	$(RUSTFMT) --config-path $(KDIR)/source/.rustfmt.toml $(RUST_SOURCES)

lint: $(PREPARE)
	@if [ "$(KERNEL)" = debian ]; then echo "make lint: on KERNEL=6.12 or 7.3 (the same source; Debian's root has no clippy)" >&2; exit 1; fi
	$(RUSTFMT) --check --config-path $(KDIR)/source/.rustfmt.toml $(RUST_SOURCES)
	@touch module.rs
	+$(KMAKE) CLIPPY=1 KRUSTFLAGS=-Dwarnings KCFLAGS=-Werror modules

test-host:
	@$(SCRIPTS)/test-host.sh

# make run [MODULE=ours|c] [EPOCH_MS=50] [ACK_MS=120] [SECONDS=20] [RATE=400]
# On the perf kernel by default (RUN_FLAVOUR=debug: under KASAN, lockdep,
# kmemleak), with the module built for it outside the repository.
RUN_FLAVOUR ?= perf
run: deps
	@$(SCRIPTS)/run-demo.sh --flavour $(RUN_FLAVOUR) --module '$(MODULE)' --epoch-ms '$(EPOCH_MS)' \
		--ack-ms '$(ACK_MS)' --seconds '$(SECONDS)' --rate '$(RATE)' 

# Without KERNEL= (and without TESTS=), make check also builds the module
# on the other line and runs the cross-line tests there (scripts/check.sh).
ifeq ($(origin KERNEL)$(TESTS),file)
check: export CHECK_OTHER_LINES := $(if $(filter 6.12,$(KERNEL)),7.3,6.12) debian
endif
check: $(PREPARE)
	@$(SCRIPTS)/check.sh $(FLAVOUR) $(TESTS)

stress: $(PREPARE)
	@$(SCRIPTS)/stress.sh $(FLAVOUR)

bench:
	@$(SCRIPTS)/bench.sh

clean:
	-+[ -d "$(KDIR)" ] && $(KMAKE) clean
	-+[ -d "$(KDIR)" ] && $(MAKE) -C tests/mqhold KDIR=$(KDIR) LLVM=$(KLLVM) clean
	rm -f bindings/qdisc_generated.rs
