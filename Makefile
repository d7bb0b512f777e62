# asyncn: the local loop. Start with `make demo` or `make test`; see README.md.
#
#   ARCH=arm64        guest architecture
#   KERNEL=6.12       kernel series (Debian's linux-source-<KERNEL>)
#   PACE=2s           pause between the demo's writes
#   GUEST_TIMEOUT=300 seconds a guest may run

ARCH ?= arm64
KERNEL ?= 6.12
PACE ?= 2s
export ARCH KERNEL PACE

S := scripts

.PHONY: demo test deps kernel module app initramfs clean distclean help

help:
	@echo "make demo   build everything for QEMU $(ARCH) and show the SIGIO scenario"
	@echo "make test   run every check and print a summary"
	@echo "parts:      deps kernel module app initramfs clean distclean"

demo: initramfs
	$(S)/run-guest.sh demo

test:
	$(S)/test.sh

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

# Keeps the kernel cache (build/kernel, build/src); distclean removes it.
clean:
	rm -rf build/$(ARCH) app/target

distclean:
	rm -rf build app/target
