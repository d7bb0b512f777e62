// SPDX-License-Identifier: GPL-2.0-only

//! Backports: the `kernel` crate's API of the newest supported kernel, on
//! the older kernels that lack parts of it, as the Linux backports project
//! does for C drivers.
//!
//! The rest of the driver is written against upstream's names and types
//! and imports them from here. On a kernel that has an item, this module
//! re-exports the kernel's; on an older one it provides the same API. The
//! shim shrinks as old kernels leave the support matrix: when 6.12 goes,
//! every `not(asyncn_6_18)` item below goes with it.
//!
//! Kbuild passes `--cfg asyncn_6_18` on Linux 6.18 and later and
//! `--cfg asyncn_7_0` on 7.0 and later (see `Kbuild`, which refuses the
//! releases in between). The flags are derived from the version, not
//! probed feature by feature, and are read here and nowhere else.
//!
//! | upstream item | 6.12 | 6.18 | 7.x |
//! |---|---|---|---|
//! | `kernel::iov::{IovIterDest, IovIterSource}` | [`iov`] | kernel | kernel |
//! | `kernel::warn_on!` | [`bug`] (not faithful: see there) | kernel | kernel |
//! | `pin_init_from_closure` | [`init`] (`kernel::init`) | `pin_init` | `pin_init` |
//! | `kernel::str::{CStrExt, as_char_ptr_in_const_context}` on `core::ffi::CStr` | [`str`] | [`str`] | kernel |
//! | `kernel::module::this_module()` | [`module`] (`crate::THIS_MODULE`) | [`module`] (`crate::THIS_MODULE`) | kernel |
//! | `kernel::static_lock_class!` giving `Pin<&'static LockClassKey>` | [`sync`] | kernel | kernel |
//! | `LockClassKey::as_ptr` (public from 7.0) | [`sync`] | [`sync`] | kernel |
//! | `bindings::cdev` and `cdev_*` | [`cdev`] (a copy) | [`cdev`] (a copy) | bindings |
//! | `bindings::poll_table_struct` fields, `poll_wait` | [`poll`] (a copy) | bindings | bindings |
//!
//! Spellings of the generated bindings that differ between versions:
//!
//! | what | 6.12 | 6.18, 7.x |
//! |---|---|---|
//! | `inode->i_cdev` (bindgen anonymous union) | `__bindgen_anon_4` | `__bindgen_anon_5` |
//!
//! | what | 6.12, 6.18 | 7.x |
//! |---|---|---|
//! | `device_attribute::show` | a field | in a union with `show_const` |
//! | `attribute_group::attrs` | a field | in a union with `attrs_const` |
//!
//! The `module!` macro's author key (`author` before 6.13, `authors`
//! after) is avoided altogether: see `params::modinfo!`.
//!
//! Hand-copied C layouts (`struct cdev`, `struct poll_table_struct`) live
//! only here, in [`cdev`] and [`poll`], each guarded where it is used.

use kernel::bindings;

pub(crate) mod bug;
pub(crate) mod cdev;
pub(crate) mod init;
pub(crate) mod iov;
pub(crate) mod module;
pub(crate) mod poll;
pub(crate) mod str;
pub(crate) mod sync;

/// The `struct cdev` of a character-device inode (`inode->i_cdev`, which
/// bindgen places in an anonymous union).
///
/// # Safety
///
/// `inode` must point to a live inode.
pub(crate) unsafe fn inode_cdev(inode: *const bindings::inode) -> *mut bindings::cdev {
    // SAFETY: the caller guarantees that `inode` points to a live inode;
    // `i_cdev` is the union member a character-device inode uses.
    unsafe {
        #[cfg(not(asyncn_6_18))]
        let cdev = (*inode).__bindgen_anon_4.i_cdev;
        #[cfg(asyncn_6_18)]
        let cdev = (*inode).__bindgen_anon_5.i_cdev;
        cdev
    }
}

/// A `show` callback of a device attribute.
pub(crate) type ShowFn = unsafe extern "C" fn(
    *mut bindings::device,
    *mut bindings::device_attribute,
    *mut kernel::ffi::c_char,
) -> isize;

/// Sets the `show` callback of `attr`.
pub(crate) const fn set_show(attr: &mut bindings::device_attribute, show: ShowFn) {
    #[cfg(not(asyncn_7_0))]
    {
        attr.show = Some(show);
    }
    #[cfg(asyncn_7_0)]
    {
        attr.__bindgen_anon_1.show = Some(show);
    }
}

/// An attribute group of the NULL-terminated attribute list `attrs`.
pub(crate) const fn attribute_group(
    attrs: *mut *mut bindings::attribute,
) -> bindings::attribute_group {
    // SAFETY: `attribute_group` is a C struct of pointers and integers, for
    // which all-zero is a valid value (no name, no callbacks).
    let mut group: bindings::attribute_group =
        unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    #[cfg(not(asyncn_7_0))]
    {
        group.attrs = attrs;
    }
    #[cfg(asyncn_7_0)]
    {
        group.__bindgen_anon_2.attrs = attrs;
    }
    group
}
