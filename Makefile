# rrelay: top-level Makefile. `make help` lists the targets.
#
# The module builds against KDIR; by default that is the test kernel that
# scripts/kernel.sh fetches and builds into the cache (built on first use).
# `make KDIR=/path/to/kernel/build` builds against your own Rust-enabled tree.

SHELL := /bin/bash
# The toolchain, in one place: the LLVM suffix here (scripts/lib.sh reads
# this line), the Rust toolchain in rust-toolchain.toml (read below and by
# scripts/lib.sh).
LLVM ?= -19
KDIR ?= $(shell $(CURDIR)/scripts/kernel.sh base)
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM)
# DKMS adds CC=clang LD=ld.lld for a clang-built kernel; with LLVM=-19 the
# tools are clang-19 and ld.lld-19 (Debian installs no unversioned clang).
ifeq ($(origin CC),command line)
KMAKE += CC=$(CC)$(if $(filter clang,$(CC)),$(LLVM)) LD=$(LD)$(if $(filter ld.lld,$(LD)),$(LLVM))
endif
export RUSTUP_TOOLCHAIN := $(shell sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)

.PHONY: all modules extras tools install clean help bootstrap kernel kernel-debug kernel-intree kernel-patches \
	check check-debug check-intree stress demo vm-run bench \
	clippy fmt fmt-check rust-analyzer host-test lint lint-c rustdoc mutants

all: modules

modules:
	$(KMAKE) modules

# The samples, the test modules and the benchmark too (they need CONFIG_RELAY).
extras:
	$(KMAKE) RRELAY_EXTRAS=y modules

# The kernel's clippy lints, on a copy of the sources (scripts/clippy.sh).
# The rrelay tool, a static binary (the test guest's /opt/bin/rrelay).
tools:
	@scripts/tools.sh

clippy:
	KDIR=$(KDIR) scripts/clippy.sh

# rrelay.ko into $(INSTALL_MOD_PATH)/lib/modules/<release>/updates (then
# depmod), and what clients build against into $(DESTDIR)$(PREFIX)/src/rrelay:
# include/ (rrelay.h, rrelay_compat.h, uapi/linux/rrelay.h, rrelay.rs,
# rrelay.mk) and Module.symvers. A client's Kbuild then has
# `include $(RRELAY)/include/rrelay.mk` with RRELAY=$(PREFIX)/src/rrelay.
PREFIX ?= /usr/local
RRELAY_SRC_DIR = $(DESTDIR)$(PREFIX)/src/rrelay
install: modules
	$(KMAKE) modules_install
	install -D -m 0644 -t $(RRELAY_SRC_DIR)/include include/rrelay.h include/rrelay_compat.h \
		include/rrelay.rs include/rrelay.mk
	install -D -m 0644 -t $(RRELAY_SRC_DIR)/include/uapi/linux include/uapi/linux/rrelay.h
	install -D -m 0644 -t $(RRELAY_SRC_DIR) Module.symvers

rust-analyzer:
	$(KMAKE) rust-analyzer

# Every lint: rustfmt, clippy, kernel-doc and checkpatch. `make -k lint` runs them all.
lint: fmt-check clippy lint-c

# kernel-doc and checkpatch on every C file and header (accepted reports,
# each with its reason, in scripts/lint-c.ignore).
lint-c:
	scripts/lint-c.sh

# HTML docs of the module crate, private items included (target/rustdoc-module).
rustdoc:
	KDIR=$(KDIR) scripts/rustdoc.sh

# Mutation testing of src/subbuf.rs (cargo-mutants, 3 to 7 minutes); fails on a
# survivor not listed in accounting/mutants-equivalent.txt.
mutants:
	scripts/mutants.sh

clean:
	-[ -d "$(KDIR)" ] && $(KMAKE) clean
	[ ! -f Cargo.toml ] || cargo clean

bootstrap:
	scripts/bootstrap.sh

kernel: bootstrap
	scripts/kernel.sh base

kernel-debug: bootstrap
	scripts/kernel.sh debug

# The test kernel with the series of `make kernel-patches` applied: rrelay
# built in, blktrace on it.
kernel-intree: bootstrap
	scripts/kernel.sh intree

# The in-tree patch series (rrelay, then blktrace on it) with a cover letter,
# against the fetched kernel source, into PATCHES_DIR.
PATCHES_DIR ?= $(CURDIR)/target/kernel-patches
kernel-patches:
	scripts/kernel-patches.sh $(PATCHES_DIR)

host-test:
	cargo test --workspace

fmt:
	cargo fmt --all
	rustfmt --edition 2021 $(wildcard src/*.rs include/*.rs samples/*.rs tests/modules/*.rs)

fmt-check:
	cargo fmt --all -- --check
	rustfmt --check --edition 2021 $(wildcard src/*.rs include/*.rs samples/*.rs tests/modules/*.rs)

check:
	scripts/check.sh

# The guest suite on the debug kernel (KASAN, lockdep, debug objects, ...),
# with a bounded stress run and a kmemleak scan (what does not depend on
# the kernel is make check's).
check-debug:
	RRELAY_KERNEL=debug scripts/check.sh

# The series applied to a pristine tree; Debian's blktrace and blkparse on
# the intree kernel (blktrace on rrelay) and on the base kernel (on relay).
check-intree:
	scripts/check-intree.sh

# make stress DURATION=60 KERNEL=base|debug
KERNEL ?= base
stress:
	DURATION=$(DURATION) KERNEL=$(KERNEL) scripts/stress.sh

# make demo SIZE=64 RATE=1000 MODE=mmap OVERWRITE=0 GLOBAL=0 DURATION=3 SUBBUF_SIZE=16384 N_SUBBUFS=16 HEADERS=0
demo:
	SIZE=$(SIZE) RATE=$(RATE) MODE=$(MODE) OVERWRITE=$(OVERWRITE) GLOBAL=$(GLOBAL) \
		DURATION=$(DURATION) SUBBUF_SIZE=$(SUBBUF_SIZE) N_SUBBUFS=$(N_SUBBUFS) HEADERS=$(HEADERS) \
		scripts/demo.sh

# make bench BENCH_ROUNDS=5 BENCH_BATCH=2097152 BENCH_SETUP_MIB=16 BENCH_SECS=3
bench:
	scripts/bench.sh

# Boot the test kernel with everything the guest runs in /opt (FILES=...
# under /opt/files) and run CMD as root, unexpanded by make, e.g.
#   make vm-run CMD='insmod /opt/modules/rrelay.ko && cat /proc/modules'
SIZE ?= 64
RATE ?= 1000
SUBBUF_SIZE ?= 16384
N_SUBBUFS ?= 16
MODE ?= mmap
OVERWRITE ?= 0
GLOBAL ?= 0
HEADERS ?= 0
DURATION ?= $(if $(filter stress,$(MAKECMDGOALS)),60,3)
FILES ?=
vm-run:
	CMD='$(subst ','\'',$(value CMD))' FILES='$(FILES)' KERNEL='$(KERNEL)' scripts/vm-cmd.sh

help:
	@echo 'make demo          boot the VM and show rrelay at work'
	@echo 'make check         every test: host, KUnit, in-guest TAP; ends "N passed, N failed"'
	@echo 'make               build rrelay.ko against KDIR (default: the cached test kernel)'
	@echo 'make extras        also the samples, the test modules and the benchmark (need CONFIG_RELAY)'
	@echo 'make tools         the rrelay tool, a static binary; prints where it is'
	@echo 'make install INSTALL_MOD_PATH=.. DESTDIR=.. PREFIX=/usr/local   the module, and the client'
	@echo '                   headers, rrelay.mk and Module.symvers into $$DESTDIR$$PREFIX/src/rrelay'
	@echo 'make check-debug   the guest suite on the KASAN/lockdep kernel, with stress and kmemleak'
	@echo 'make check-intree  the patch series on a pristine tree; Debian'"'"'s blktrace on rrelay built in'
	@echo '                   (the intree kernel) and on relay (the base kernel), counts compared'
	@echo 'make kernel-patches PATCHES_DIR=target/kernel-patches   rrelay as an in-tree patch series'
	@echo '                   (git format-patch, cover letter) against the fetched linux-source-7.2'
	@echo 'make stress DURATION=60 KERNEL=base|debug   every context, reader, hotplug and churn at once'
	@echo 'make bench         rrelay against the kernel relay; writes bench/results.{json,md}, plot.svg'
	@echo 'make vm-run CMD=.. FILES=.. KERNEL=base|debug   run a command in the test VM; /opt holds'
	@echo '                   the modules, the rrelay tool and the tests (no CMD: it says what is where)'
	@echo 'make demo SIZE=64 RATE=1000 (0: flat out) MODE=mmap|splice|read OVERWRITE=0|1 GLOBAL=0|1'
	@echo '          DURATION=3 SUBBUF_SIZE=16384 N_SUBBUFS=16 HEADERS=0|1 (sub-buffer headers)'
	@echo 'make bench BENCH_ROUNDS=5 BENCH_BATCH=2097152 BENCH_SETUP_MIB=16 BENCH_SECS=3'
	@echo 'KDIR=/path/to/kernel/build   build against your own Rust-enabled kernel (make, make clippy)'
	@echo 'make lint          rustfmt, clippy, kernel-doc and checkpatch (make lint-c: the C lints only)'
	@echo 'make rustdoc       the documentation of the module crate (target/rustdoc-module)'
	@echo 'make mutants       mutation testing of src/subbuf.rs; fails on a survivor not listed as equivalent'
	@echo 'make clippy / fmt / fmt-check / rust-analyzer / bootstrap / kernel / kernel-debug / kernel-intree / clean'
