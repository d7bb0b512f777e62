require recipes-kernel/linux/asyncn-kernel-rust.inc
