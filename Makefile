# asyncn: the local loop. Start with `make demo` or `make test`; see README.md.
#
#   ARCH=arm64|arm|x86_64  guest architecture (default arm64)
#   KERNEL=6.12|7.3        kernel series (default: 6.12, or 7.3 for arm)
#   KERNEL=6.18 LINUX_SRC=<dir>  a Linux 6.18 tree you provide (not in CI)
#   PACE=2s                pause between the demo's writes
#   GUEST_TIMEOUT=300      seconds a guest may run
#   FLAVOUR=debug          kernel with lockdep, KASAN, KFENCE, kmemleak (Clang)
#   FLAVOUR=trace          make bench: kernel with ftrace's function-graph tracer;
#                          where the slowest writes spend their time
#   BOARD=raspi3b          boot an SD card image on QEMU's Raspberry Pi 3 Model B
#                          (flashed with bmaptool) instead of "virt" + initramfs
#   INIT=systemd           that card with a Debian root: systemd and udev
#   SECONDS=300            make stress: seconds of stress, then of fuzz
#   SEED=<n>, PROCS=<n>    stress/fuzz: repeat a run, worker processes
#   FAULTS=2               debug kernel: percent of driver allocations and user
#                          copies failing in the second stress run
#   ROUNDS=5               make bench: rounds (every peer measured in each)
#   RUNS=3                 make bench: guest boots, reported across (median)
#
# `make test` without ARCH, KERNEL, BOARD or INIT runs the matrix arm64/6.12,
# arm64/6.12 on raspi3b, arm64/7.3, arm/7.3 and arm64/6.12 debug; with any
# of them, that one target; with FLAVOUR=debug alone, arm64/6.12 debug.

PACE ?= 2s
SECONDS ?= 300
export ARCH KERNEL LINUX_SRC BOARD INIT PACE SEED PROCS ROUNDS RUNS
# The clock of the step lines: seconds since this make started.
export ASYNCN_T0 := $(shell date +%s)

S := scripts

.PHONY: demo test stress bench mutants clean-room deps kernel kernel-cost module app initramfs card lint packaging-check crates-inc clean distclean clean-cache help

help:
	@echo "make demo   build everything for QEMU arm64 and show the SIGIO scenario"
	@echo "make test   run every check and print a summary"
	@echo "make stress SECONDS=600  long stress + fuzz run on the debug kernel"
	@echo "make bench RUNS=3  asyncn beside its peers (C baseline, pipe, sigqueue, eventfd)"
	@echo "            over RUNS boots: table, targets; build/bench/bench.json,"
	@echo "            latency-cdf.{png,svg}, cost-per-write.{png,svg}"
	@echo "make mutants  deliberate driver bugs (tests/mutants/) the guest suite must catch"
	@echo "make clean-room  the README's steps and both commands on a fresh minimal Debian"
	@echo "parts:      deps kernel module app initramfs card clean distclean clean-cache"
	@echo "make kernel-cost  the kernel build's seconds per group of options (ARCH, KERNEL)"
	@echo "packaging-check  the README's and layers' packaging steps that run here"
	@echo "            (KAS_WORK_DIR=<dir> KAS_USER=<user>: kas + bitbake; BUILDROOT_DIR=<dir>: Buildroot)"
	@echo "            (PI_DEFCONFIGS=<dir> LINUX_618_SRC= LINUX_612_SRC= META_RPI=: Pi kernel configurations)"
	@echo "packaging:  lint (meta-asyncn), crates-inc (regenerate asyncn-test-crates.inc)"

# On BOARD=raspi3b the guest boots the card instead of an initramfs.
GUEST_IMAGE := $(if $(filter raspi3b,$(BOARD))$(filter systemd,$(INIT)),card,initramfs)

demo: $(GUEST_IMAGE)
	$(S)/run-guest.sh demo

test:
	$(S)/test.sh

# The debug kernel unless FLAVOUR is given (the card: the plain arm64
# kernel, the one configured for the Pi); the guest runs stress, then on
# the debug kernel stress again under fault injection (FAULTS percent),
# then fuzz, SECONDS each, unloads the module and asks kmemleak.
stress: export FLAVOUR := $(or $(FLAVOUR),$(if $(filter card,$(GUEST_IMAGE)),,debug))
stress: $(GUEST_IMAGE)
	STRESS_SECONDS=$(SECONDS) FUZZ_SECONDS=$(SECONDS) \
		FAULTS=$(if $(filter debug,$(FLAVOUR)),$(or $(FAULTS),2)) $(S)/run-guest.sh stress

# RUNS guest boots (default 3), reported across runs with the targets of
# scripts/bench-report.py (a miss fails); in build/bench/: run-<n>.log,
# bench.json, latency-cdf.{png,svg}, cost-per-write.{png,svg}; with
# FLAVOUR=trace also trace-<n>.txt and where the slow calls spent their time.
bench: module app
	$(S)/bench.sh

# Each tests/mutants/*.patch applied to a copy of driver/ and init/ and run
# through the arm64/6.12 guest suite; a table of which check killed it
# (MUTANTS=01,07 for some). The "Kernel: debug" mutants run on the debug
# kernel, in a second pass. Not part of `make test`: it boots a guest per
# mutant.
mutants: export ARCH := arm64
mutants: export KERNEL := 6.12
mutants: export FLAVOUR :=
mutants: module app
	$(S)/mutants.sh

# The README's prerequisites and both commands in a freshly bootstrapped
# minimal Debian (chroot; root and network needed). See CONTRIBUTING.md.
clean-room:
	$(S)/clean-room.sh

deps:
	$(S)/install-deps.sh

kernel: deps
	$(S)/build-kernel.sh

module: kernel
	$(S)/build-module.sh

app: deps
	$(S)/build-app.sh

initramfs: module app
	$(S)/build-initramfs.sh

# build/arm64/raspi3b/sdcard.img.bz2 + sdcard.img.bmap: the Raspberry Pi 3
# SD card (BOARD=raspi3b; INIT=systemd for the Debian one, in
# build/arm64/raspi3b-systemd/).
card: export BOARD := $(or $(BOARD),raspi3b)
card: module app
	$(S)/build-card.sh

lint:
	$(S)/lint-layer.sh

# Where a kernel build's time goes: ARCH/KERNEL built from allnoconfig with
# one more group of options at a time (scratch directories; ~4 min each).
kernel-cost: kernel
	$(S)/kernel-cost.sh

# Shared files, licence, lint, the docs' bmaptool commands on the card;
# with upstream trees, the replays of what bitbake and Buildroot run
# (KAS_WORK_DIR, BUILDROOT_DIR, PI_DEFCONFIGS).
packaging-check:
	$(S)/packaging-check.sh

# After changing app/Cargo.lock.
crates-inc:
	python3 $(S)/update-crates-inc.py

# clean and distclean keep the machine's cache, which every clone shares
# (kernel sources and builds, the Debian root; CACHE in scripts/lib.sh):
# clean-cache removes it. (build/kernel, build/src and build/pkg are where
# an older checkout kept its kernels.)
clean:
	rm -rf build/arm64* build/arm build/arm-* build/x86_64* build/mutants app/target \
		build/kernel build/src build/pkg

distclean:
	rm -rf build app/target

clean-cache:
	@cache=$$(bash -c '. "$(S)/lib.sh" && echo "$$CACHE"') && \
	case "$$cache" in /?*) ;; *) echo "refusing to remove '$$cache': not an absolute path" >&2; exit 1 ;; esac && \
	if [ ! -e "$$cache" ]; then echo "no cache at $$cache"; exit 0; fi && \
	if [ ! -d "$$cache/kernel" ] && [ ! -d "$$cache/pkg" ] && [ ! -d "$$cache/debian" ]; then \
		echo "refusing to remove '$$cache': it holds no kernel/, pkg/ or debian/ of the loop" >&2; exit 1; fi && \
	echo "rm -rf $$cache" && rm -rf "$$cache"
