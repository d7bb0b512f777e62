// SPDX-License-Identifier: GPL-2.0-only

//! The one place where differences between kernel versions are handled.
//!
//! Kbuild passes `--cfg asyncn_6_18` on Linux 6.18 and later and
//! `--cfg asyncn_7_0` on 7.0 and later (see `Kbuild`); the rest of the
//! driver calls these functions and never looks at versions itself.
//!
//! | what | 6.12 | 6.18, 7.x |
//! |---|---|---|
//! | `inode->i_cdev` (bindgen anonymous union) | `__bindgen_anon_4` | `__bindgen_anon_5` |
//! | `static_lock_class!()` | `&'static LockClassKey` | `Pin<&'static LockClassKey>` |
//! | `module!` author key | `author` | `authors` (so neither is used: see `params::modinfo!`) |
//!
//! | what | 6.12, 6.18 | 7.x |
//! |---|---|---|
//! | `device_attribute::show` | a field | in a union with `show_const` |
//! | `attribute_group::attrs` | a field | in a union with `attrs_const` |

use core::pin::Pin;
use kernel::{bindings, sync::LockClassKey};

/// The `struct cdev` of a character-device inode (`inode->i_cdev`, which
/// bindgen places in an anonymous union).
///
/// # Safety
///
/// `inode` must point to a live inode.
pub(crate) unsafe fn inode_cdev(inode: *const bindings::inode) -> *mut bindings::cdev {
    // SAFETY: the caller guarantees `inode` is valid.
    unsafe {
        #[cfg(not(asyncn_6_18))]
        let cdev = (*inode).__bindgen_anon_4.i_cdev;
        #[cfg(asyncn_6_18)]
        let cdev = (*inode).__bindgen_anon_5.i_cdev;
        cdev
    }
}

/// Bytes left in an iterator (`iov_iter_count()`, an inline function; the
/// count sits in anonymous unions that bindgen names).
///
/// # Safety
///
/// `iter` must point to a live `iov_iter`.
pub(crate) unsafe fn iov_iter_count(iter: *const bindings::iov_iter) -> usize {
    // SAFETY: the caller guarantees `iter` is valid; `count` is valid for
    // every iterator type (the union's other member, `__ubuf_iovec`, has
    // the same layout with its length where `count` is).
    unsafe { (*iter).__bindgen_anon_1.__bindgen_anon_1.as_ref().count }
}

/// What `static_lock_class!()` returns: a plain or a pinned static reference,
/// depending on the version. Both give the C key, with its static lifetime.
pub(crate) trait StaticLockClass: Copy {
    /// The C `lock_class_key` of the static key.
    fn as_key_ptr(self) -> *mut bindings::lock_class_key;
}

impl StaticLockClass for &'static LockClassKey {
    fn as_key_ptr(self) -> *mut bindings::lock_class_key {
        // `LockClassKey` is a transparent wrapper around `Opaque<lock_class_key>`.
        core::ptr::from_ref(self).cast_mut().cast()
    }
}

impl StaticLockClass for Pin<&'static LockClassKey> {
    fn as_key_ptr(self) -> *mut bindings::lock_class_key {
        Pin::get_ref(self).as_key_ptr()
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
    // SAFETY: all-zero is a valid `attribute_group` (no name, no callbacks).
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
