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
//! | `UserSlice::new` pointer | `usize` | `UserPtr` |
//! | `static_lock_class!()` | `&'static LockClassKey` | `Pin<&'static LockClassKey>` |
//! | `module!` author key | `author` | `authors` (so neither is used: see `params::modinfo!`) |
//!
//! | what | 6.12, 6.18 | 7.x |
//! |---|---|---|
//! | `device_attribute::show` | a field | in a union with `show_const` |
//! | `attribute_group::attrs` | a field | in a union with `attrs_const` |

use core::pin::Pin;
use kernel::{bindings, sync::LockClassKey, uaccess::UserSlice};

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

/// A user-space buffer of `len` bytes at `ptr`.
pub(crate) fn user_slice(ptr: *mut core::ffi::c_void, len: usize) -> UserSlice {
    #[cfg(not(asyncn_6_18))]
    let ptr = ptr as usize;
    #[cfg(asyncn_6_18)]
    let ptr = kernel::uaccess::UserPtr::from_ptr(ptr);
    UserSlice::new(ptr, len)
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
