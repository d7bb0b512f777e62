// SPDX-License-Identifier: GPL-2.0-only

//! Module parameters over the C `struct kernel_param` table.
//!
//! The `module!` macro of the kernels we support does not take parameters on
//! all of them, so this file does what `module_param(name, uint, 0444)` and
//! `MODULE_PARM_DESC()` do in C: a `kernel_param` entry in the `__param`
//! section (the loader parses `name=value` into the variable before `init`
//! runs and shows it under `/sys/module/asyncn/parameters/`) plus the
//! `parm=`/`parmtype=` strings `modinfo` prints.

use core::cell::UnsafeCell;
use kernel::{bindings, ffi::c_uint};

/// An unsigned integer module parameter, read-only once the module is loaded.
#[repr(transparent)]
pub(crate) struct UintParam(UnsafeCell<c_uint>);

// SAFETY: `Sync` requires that `&UintParam` be usable from many tasks at
// once: the loader writes the value before `init` runs; afterwards it is
// read-only (permission 0444 in sysfs), so shared reads never race.
unsafe impl Sync for UintParam {}

impl UintParam {
    /// A parameter with its default value.
    pub(crate) const fn new(default: c_uint) -> Self {
        Self(UnsafeCell::new(default))
    }

    /// The value given at load time, or the default.
    pub(crate) fn get(&self) -> c_uint {
        // SAFETY: a volatile read needs a valid, aligned pointer: the
        // `UnsafeCell`'s, valid for the module's lifetime; nothing writes
        // the value after load (see the `Sync` impl).
        unsafe { core::ptr::read_volatile(self.0.get()) }
    }
}

/// A `kernel_param` table entry, placed in the `__param` section.
#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct ParamEntry(pub(crate) bindings::kernel_param);

// SAFETY: `Sync` requires that `&ParamEntry` be usable from any task: the
// entry is never written after compilation; the kernel only reads it.
unsafe impl Sync for ParamEntry {}

/// Copies a string into a fixed-size byte array at compile time, for
/// `.modinfo` entries (which are NUL-terminated strings laid end to end).
#[doc(hidden)]
pub(crate) const fn modinfo_bytes<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares `static $var: UintParam` as module parameter `$name`
/// (permission 0444) with the description `$desc`.
macro_rules! uint_param {
    ($var:ident, $name:literal, $default:expr, $desc:literal) => {
        pub(crate) static $var: $crate::params::UintParam =
            $crate::params::UintParam::new($default);

        const _: () = {
            #[link_section = "__param"]
            #[used(compiler)]
            static ENTRY: $crate::params::ParamEntry =
                $crate::params::ParamEntry(::kernel::bindings::kernel_param {
                    name: concat!($name, "\0").as_ptr().cast(),
                    mod_: $crate::compat::module::this_module().as_ptr(),
                    ops: ::core::ptr::addr_of!(::kernel::bindings::param_ops_uint),
                    perm: 0o444,
                    level: -1,
                    flags: 0,
                    __bindgen_anon_1: ::kernel::bindings::kernel_param__bindgen_ty_1 {
                        // `UintParam` is a transparent `UnsafeCell<c_uint>`.
                        arg: ::core::ptr::addr_of!($var).cast_mut().cast(),
                    },
                });

            const PARMTYPE: &str = concat!("parmtype=", $name, ":uint\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static TYPE: [u8; PARMTYPE.len()] = $crate::params::modinfo_bytes(PARMTYPE);

            const PARM: &str = concat!("parm=", $name, ":", $desc, "\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static DESC: [u8; PARM.len()] = $crate::params::modinfo_bytes(PARM);
        };
    };
}
pub(crate) use uint_param;

/// Declares a `.modinfo` entry `$key=$value` (what C's `MODULE_INFO()` does),
/// for keys whose `module!` spelling differs between kernel versions.
macro_rules! modinfo {
    ($key:literal, $value:literal) => {
        const _: () = {
            const ENTRY: &str = concat!($key, "=", $value, "\0");
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static INFO: [u8; ENTRY.len()] = $crate::params::modinfo_bytes(ENTRY);
        };
    };
}
pub(crate) use modinfo;
