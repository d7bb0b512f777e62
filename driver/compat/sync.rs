// SPDX-License-Identifier: GPL-2.0-only

//! Lock classes: `kernel::static_lock_class!` as Linux 6.13 on has it,
//! giving a `Pin<&'static LockClassKey>` (on 6.12 it gives a plain
//! reference), and the C key of a `LockClassKey` (`LockClassKey::as_ptr`,
//! public from 7.0 on, private to the `kernel` crate before).

use core::pin::Pin;
use kernel::{bindings, sync::LockClassKey};

#[cfg(asyncn_6_18)]
pub(crate) use kernel::static_lock_class;

#[cfg(not(asyncn_6_18))]
macro_rules! static_lock_class {
    () => {
        ::core::pin::Pin::static_ref(::kernel::static_lock_class!())
    };
}
#[cfg(not(asyncn_6_18))]
pub(crate) use static_lock_class;

/// The C key of `key`.
#[cfg(asyncn_7_0)]
pub(crate) fn lock_class_ptr(key: Pin<&'static LockClassKey>) -> *mut bindings::lock_class_key {
    key.as_ptr()
}

/// The C key of `key`.
#[cfg(not(asyncn_7_0))]
pub(crate) fn lock_class_ptr(key: Pin<&'static LockClassKey>) -> *mut bindings::lock_class_key {
    // `LockClassKey` is a `#[repr(transparent)]` wrapper of an
    // `Opaque<lock_class_key>` on these kernels; the sizes are checked here.
    const _: () = assert!(
        core::mem::size_of::<LockClassKey>() == core::mem::size_of::<bindings::lock_class_key>()
    );
    core::ptr::from_ref(key.get_ref()).cast_mut().cast()
}
