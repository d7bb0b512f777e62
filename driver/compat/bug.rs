// SPDX-License-Identifier: GPL-2.0-only

//! `kernel::warn_on!` (Linux 6.15 on), on 6.12.
//!
//! The backport is not faithful: it prints the cut-here line, a `WARNING:
//! at file:line` line and the stack (`dump_stack`), and taints the kernel
//! with `TAINT_WARN`. It does not go through the bug table, so
//! `panic_on_warn` does not apply to it, and it prints no registers or
//! module list. `__warn_printk` is what C's `WARN()` calls on
//! architectures with `__WARN_FLAGS` (all that have Rust on 6.12); without
//! `CONFIG_BUG` the macro only evaluates its condition, as upstream's does.

#[cfg(asyncn_6_18)]
pub(crate) use kernel::warn_on;

#[cfg(not(asyncn_6_18))]
pub(crate) use backport::warn_on;

#[cfg(all(
    not(asyncn_6_18),
    not(any(
        target_arch = "aarch64",
        target_arch = "x86_64",
        target_arch = "riscv64",
        target_arch = "loongarch64"
    ))
))]
compile_error!("the warn_on! backport needs __warn_printk (an architecture with __WARN_FLAGS)");

// User-mode Linux reports `x86_64` but uses asm-generic's bug.h, which has
// no `__WARN_FLAGS`.
#[cfg(all(not(asyncn_6_18), CONFIG_UML))]
compile_error!("the warn_on! backport needs __warn_printk, which UML does not have");

#[cfg(not(asyncn_6_18))]
mod backport {
    use crate::compat::str::CStrExt;
    use kernel::{bindings, ffi::c_int};

    /// Reports a warning at the caller's location.
    #[cfg(CONFIG_BUG)]
    #[cold]
    #[inline(never)]
    #[track_caller]
    pub(crate) fn warn() {
        let location = core::panic::Location::caller();
        let file = location.file();
        // SAFETY: the format takes a length and a pointer to that many
        // bytes (`%.*s`, `file` need not be NUL-terminated) and an
        // unsigned int, which are the arguments passed.
        unsafe {
            bindings::__warn_printk(
                c"WARNING: at %.*s:%u\n".as_char_ptr(),
                file.len() as c_int,
                file.as_ptr(),
                location.line(),
            )
        };
        // SAFETY: `dump_stack` has no requirements.
        unsafe { bindings::dump_stack() };
        // SAFETY: `add_taint` has no requirement beyond a valid taint bit,
        // and `TAINT_WARN` is one.
        unsafe { bindings::add_taint(bindings::TAINT_WARN, bindings::lockdep_ok_LOCKDEP_STILL_OK) };
    }

    /// Without `CONFIG_BUG`, warnings are compiled out.
    #[cfg(not(CONFIG_BUG))]
    #[inline(always)]
    pub(crate) fn warn() {}

    /// Reports a warning if `cond` is true; evaluates to `cond`.
    macro_rules! warn_on {
        ($cond:expr) => {{
            let cond: bool = $cond;
            if cond {
                $crate::compat::bug::backport_warn();
            }
            cond
        }};
    }
    pub(crate) use warn_on;
}

#[cfg(not(asyncn_6_18))]
#[doc(hidden)]
pub(crate) use backport::warn as backport_warn;
