// SPDX-License-Identifier: GPL-2.0-only

//! `kernel::str::CStrExt::as_char_ptr` and
//! `kernel::str::as_char_ptr_in_const_context` on `core::ffi::CStr` (Linux
//! 7.0 on, where the `kernel` crate's `CStr` is `core`'s), on 6.12 and 6.18,
//! whose `kernel::str::CStr` is a type of its own.
//!
//! The C API takes the kernel's `char`, unsigned on every architecture
//! (`-funsigned-char`), whatever `core::ffi::c_char` is.

#[cfg(asyncn_7_0)]
pub(crate) use kernel::str::{as_char_ptr_in_const_context, CStrExt};

#[cfg(not(asyncn_7_0))]
pub(crate) use backport::{as_char_ptr_in_const_context, CStrExt};

#[cfg(not(asyncn_7_0))]
mod backport {
    use core::ffi::CStr;
    use kernel::ffi::c_char;

    /// Returns a C pointer to the string.
    #[allow(clippy::disallowed_methods)] // the one place that converts
    pub(crate) const fn as_char_ptr_in_const_context(c_str: &CStr) -> *const c_char {
        c_str.as_ptr().cast()
    }

    /// Extensions to [`CStr`].
    pub(crate) trait CStrExt {
        /// Returns a C pointer to the string.
        fn as_char_ptr(&self) -> *const c_char;
    }

    impl CStrExt for CStr {
        fn as_char_ptr(&self) -> *const c_char {
            as_char_ptr_in_const_context(self)
        }
    }
}
