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
//!
//! The message is formatted by Rust (`format_args!`), passed to the kernel
//! as one `%pA` argument, as the `kernel` crate's `pr_*!` macros do: no C
//! format string meets the arguments, so `trace!` is safe for any of them.
//! A `u64` is printed in hex (`{:#x}`): `core` prints one of five or more
//! decimal digits by dividing it by 10000, and a 64-bit division is a
//! panic in a 32-bit ARM kernel (`__aeabi_uldivmod`, rust/compiler_builtins.rs).

use crate::compat::str::{as_char_ptr_in_const_context, CStrExt};
use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::fmt;
use kernel::{bindings, prelude::*};

/// The dynamic debug descriptor of one call site.
#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct Descriptor(UnsafeCell<bindings::_ddebug>);

// SAFETY: `Sync` requires that `&Descriptor` be usable from many tasks at
// once: the dynamic debug core changes `flags` under its own lock, this
// side only reads them (volatile, the whole word), and a stale read only
// delays a trace switch.
unsafe impl Sync for Descriptor {}

// Bitfields of `_ddebug` after the four pointers, as GCC lays them out on
// little-endian targets: lineno:18, class_id:6, flags:8. A const fn cannot
// call bindgen's accessors, so the bits are placed by hand here and checked
// against those accessors when the module loads ([`check_layout`]).
const _: () = assert!(cfg!(target_endian = "little"));
const LINENO_BITS: u32 = 18;
const CLASS_BITS: u32 = 6;
const CLASS_DEFAULT: u32 = (1 << CLASS_BITS) - 1;
const FLAGS_SHIFT: u32 = LINENO_BITS + CLASS_BITS;
const FLAGS_PRINT: u32 = 1;
// The four pointers, then the 32-bit bitfield unit the code above fills.
const _: () = assert!(
    core::mem::offset_of!(bindings::_ddebug, _bitfield_1) == 4 * core::mem::size_of::<usize>()
);

impl Descriptor {
    pub(crate) const fn new(
        function: &'static CStr,
        filename: &'static CStr,
        format: &'static CStr,
        line: u32,
    ) -> Self {
        // SAFETY: `_ddebug` is a C struct of pointers, integers and a static
        // key, for which all-zero is a valid value (a disabled key).
        let mut raw: bindings::_ddebug = unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
        raw.modname = as_char_ptr_in_const_context(c"asyncn");
        raw.function = as_char_ptr_in_const_context(function);
        raw.filename = as_char_ptr_in_const_context(filename);
        raw.format = as_char_ptr_in_const_context(format);
        let bits = (line & ((1 << LINENO_BITS) - 1)) | (CLASS_DEFAULT << LINENO_BITS);
        raw._bitfield_1 = bindings::__BindgenBitfieldUnit::new(bits.to_le_bytes());
        Self(UnsafeCell::new(raw))
    }

    /// Whether the call site is switched on (`_DPRINTK_FLAGS_PRINT`).
    pub(crate) fn enabled(&self) -> bool {
        // SAFETY: a volatile read needs a valid, aligned pointer: the
        // bitfield unit is four bytes inside the descriptor, at an offset
        // that is a multiple of the pointer size (asserted above). It is
        // read as a whole, as the C side reads it.
        let bits = unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*self.0.get())._bitfield_1).cast::<u32>())
        };
        (u32::from_le(bits) >> FLAGS_SHIFT) & FLAGS_PRINT != 0
    }

    /// Prints `args` through the kernel's dynamic debug, as this call site.
    pub(crate) fn print(&'static self, args: fmt::Arguments<'_>) {
        // SAFETY: `__dynamic_pr_debug` needs a valid descriptor (a static
        // `_ddebug`, `self`) and arguments for its format: `%pA` takes one
        // pointer to `fmt::Arguments`, valid for the call.
        unsafe {
            bindings::__dynamic_pr_debug(
                self.0.get(),
                c"asyncn: %pA".as_char_ptr(),
                core::ptr::from_ref(&args).cast::<core::ffi::c_void>(),
            )
        };
    }
}

/// Checks the hand-placed bitfields against bindgen's accessors: the load
/// fails (`EINVAL`) if the kernel's `struct _ddebug` differs.
pub(crate) fn check_layout() -> Result {
    const LINE: u32 = 0x2_5a5a;
    let descriptor = Descriptor::new(c"check", c"check", c"check", LINE);
    let raw = descriptor.0.into_inner();
    let placed = raw.lineno() == LINE && raw.class_id() == CLASS_DEFAULT && raw.flags() == 0;
    let mut on = raw;
    on.set_flags(FLAGS_PRINT);
    let switched = Descriptor(UnsafeCell::new(on)).enabled();
    if placed && switched {
        Ok(())
    } else {
        pr_err!("struct _ddebug does not have the layout this driver was built for\n");
        Err(EINVAL)
    }
}

/// `trace!("function", "format", args...)`: a dynamic debug print, prefixed
/// `asyncn: `, with Rust formatting (`{}`); a newline is added.
///
/// The arguments are formatted with interrupts off, and twice (printk
/// sizes the record first): their `Display` must not sleep. The driver
/// passes integers only.
macro_rules! trace {
    ($function:literal, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(CONFIG_DYNAMIC_DEBUG_CORE)]
        {
            #[link_section = "__dyndbg"]
            #[used(compiler)]
            static DESCRIPTOR: $crate::trace::Descriptor = $crate::trace::Descriptor::new(
                $crate::chrdev::c_string(concat!($function, "\0")),
                $crate::chrdev::c_string(concat!(file!(), "\0")),
                $crate::chrdev::c_string(concat!($fmt, "\n\0")),
                line!(),
            );
            if DESCRIPTOR.enabled() {
                DESCRIPTOR.print(format_args!(concat!($fmt, "\n") $(, $arg)*));
            }
        }
        #[cfg(not(CONFIG_DYNAMIC_DEBUG_CORE))]
        {
            let _ = ($(&$arg,)*);
        }
    }};
}
pub(crate) use trace;
