// SPDX-License-Identifier: GPL-2.0-only

//! Per-operation traces through dynamic debug, off by default.
//!
//! `trace!` is the driver's `pr_debug()`: each call site gets a `struct
//! _ddebug` descriptor in the `__dyndbg` section, so the kernel's dynamic
//! debug lists and switches it like any C `pr_debug()`:
//!
//! ```text
//! echo 'module asyncn +p' > /proc/dynamic_debug/control   # on
//! echo 'module asyncn -p' > /proc/dynamic_debug/control   # off
//! ```
//!
//! (The `kernel` crate's `pr_debug!` is compiled in only with debug
//! assertions and cannot be switched at run time.) On kernels without
//! `CONFIG_DYNAMIC_DEBUG_CORE`, traces compile to nothing.

use crate::chrdev::c_chars;
use core::cell::UnsafeCell;
use core::ffi::CStr;
use kernel::bindings;

/// The dynamic debug descriptor of one call site.
#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct Descriptor(UnsafeCell<bindings::_ddebug>);

// SAFETY: the dynamic debug core changes `flags` under its own lock; this
// side only reads them, and a stale read only delays a trace switch.
unsafe impl Sync for Descriptor {}

// Bitfields of `_ddebug` after the four pointers, as GCC lays them out on
// little-endian targets: lineno:18, class_id:6, flags:8.
const _: () = assert!(cfg!(target_endian = "little"));
const CLASS_DEFAULT: u32 = (1 << 6) - 1;
const FLAGS_SHIFT: u32 = 24;
const FLAGS_PRINT: u32 = 1;

impl Descriptor {
    pub(crate) const fn new(
        function: &'static CStr,
        filename: &'static CStr,
        format: &'static CStr,
        line: u32,
    ) -> Self {
        // SAFETY: all-zero is a valid `_ddebug` (and a disabled static key).
        let mut raw: bindings::_ddebug = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
        raw.modname = c_chars(c"asyncn");
        raw.function = c_chars(function);
        raw.filename = c_chars(filename);
        raw.format = c_chars(format);
        let bits = (line & 0x3ffff) | (CLASS_DEFAULT << 18);
        raw._bitfield_1 = bindings::__BindgenBitfieldUnit::new(bits.to_le_bytes());
        Self(UnsafeCell::new(raw))
    }

    /// Whether the call site is switched on (`_DPRINTK_FLAGS_PRINT`).
    pub(crate) fn enabled(&self) -> bool {
        // SAFETY: the bitfield word is four aligned bytes inside the
        // descriptor; it is read as a whole, as the C side reads it.
        let bits = unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*self.0.get())._bitfield_1).cast::<u32>())
        };
        (u32::from_le(bits) >> FLAGS_SHIFT) & FLAGS_PRINT != 0
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::_ddebug {
        self.0.get()
    }
}

/// `trace!("function", "printf format\n", args...)`: a dynamic debug print,
/// prefixed `asyncn: `. The format is C's: `%u` for `u32`, `%zu` for
/// `usize`, `%llu` for `u64`.
macro_rules! trace {
    ($function:literal, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(CONFIG_DYNAMIC_DEBUG_CORE)]
        {
            #[link_section = "__dyndbg"]
            #[used(compiler)]
            static DESCRIPTOR: $crate::trace::Descriptor = $crate::trace::Descriptor::new(
                $crate::chrdev::c_string(concat!($function, "\0")),
                $crate::chrdev::c_string(concat!(file!(), "\0")),
                $crate::chrdev::c_string(concat!("asyncn: ", $fmt, "\0")),
                line!(),
            );
            if DESCRIPTOR.enabled() {
                // SAFETY: the descriptor is static; the caller matches the
                // format's conversions to the arguments' C types.
                unsafe {
                    ::kernel::bindings::__dynamic_pr_debug(
                        DESCRIPTOR.as_ptr(),
                        $crate::chrdev::c_chars($crate::chrdev::c_string(concat!("asyncn: ", $fmt, "\0")))
                        $(, $arg)*
                    )
                };
            }
        }
        #[cfg(not(CONFIG_DYNAMIC_DEBUG_CORE))]
        {
            let _ = ($(&$arg,)*);
        }
    }};
}
pub(crate) use trace;
