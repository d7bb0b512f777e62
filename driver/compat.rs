// SPDX-License-Identifier: GPL-2.0

//! The one place where differences between kernel versions are handled.
//!
//! Kbuild passes `--cfg` flags derived from the kernel version (see
//! `Kbuild`); the rest of the driver calls these functions and never looks
//! at versions itself.

use kernel::{bindings, sync::LockClassKey, uaccess::UserSlice};

/// The `struct cdev` of a character-device inode (`inode->i_cdev`, which
/// bindgen places in an anonymous union).
///
/// # Safety
///
/// `inode` must point to a live inode.
pub(crate) unsafe fn inode_cdev(inode: *const bindings::inode) -> *mut bindings::cdev {
    // SAFETY: the caller guarantees `inode` is valid.
    unsafe { (*inode).__bindgen_anon_4.i_cdev }
}

/// A user-space buffer of `len` bytes at `ptr`.
pub(crate) fn user_slice(ptr: *mut core::ffi::c_void, len: usize) -> UserSlice {
    UserSlice::new(ptr as usize, len)
}

/// The C `lock_class_key` behind a `LockClassKey`.
pub(crate) fn lock_class_key_ptr(key: &'static LockClassKey) -> *mut bindings::lock_class_key {
    // `LockClassKey` is a transparent wrapper around `Opaque<lock_class_key>`.
    core::ptr::from_ref(key).cast_mut().cast()
}
