// SPDX-License-Identifier: GPL-2.0

//! A kernel `struct mutex` that can be taken interruptibly.
//!
//! The `kernel` crate's `Mutex` only offers an uninterruptible `lock()`. A
//! character device must let a signal interrupt a task waiting for the lock
//! (`mutex_lock_interruptible()` returning `-ERESTARTSYS` to the syscall), so
//! this is the same pinned C mutex with both entry points.

use crate::compat;
use core::{
    cell::UnsafeCell,
    marker::{PhantomData, PhantomPinned},
    ops::{Deref, DerefMut},
};
use kernel::{bindings, error::code::ERESTARTSYS, prelude::*, sync::LockClassKey, types::Opaque};

/// Data `T` protected by a kernel mutex.
#[pin_data]
pub(crate) struct InterruptibleMutex<T> {
    #[pin]
    raw: Opaque<bindings::mutex>,
    data: UnsafeCell<T>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the mutex hands out `&mut T` to one task at a time, so it may be
// shared and sent between tasks when `T` may be sent.
unsafe impl<T: Send> Send for InterruptibleMutex<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for InterruptibleMutex<T> {}

impl<T> InterruptibleMutex<T> {
    /// An initialiser for a mutex protecting `data`; `name` and `key` are
    /// lockdep's class name and key.
    pub(crate) fn new(
        data: T,
        name: &'static CStr,
        key: &'static LockClassKey,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes while the closure runs and is
            // pinned afterwards; `name` and `key` are static.
            raw <- Opaque::ffi_init(|slot| unsafe {
                bindings::__mutex_init(slot, name.as_char_ptr(), compat::lock_class_key_ptr(key))
            }),
            data: UnsafeCell::new(data),
            _pin: PhantomPinned,
        })
    }

    /// Waits for the lock; a signal ends the wait with `ERESTARTSYS`.
    pub(crate) fn lock_interruptible(&self) -> Result<Guard<'_, T>> {
        // SAFETY: `raw` was initialised by `new` and is pinned.
        let ret = unsafe { lock_interruptible(self.raw.get()) };
        if ret != 0 {
            return Err(ERESTARTSYS);
        }
        Ok(Guard::new(self))
    }

    /// Waits for the lock, ignoring signals (for paths that cannot fail,
    /// such as `release`).
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        // SAFETY: `raw` was initialised by `new` and is pinned.
        unsafe { bindings::mutex_lock(self.raw.get()) };
        Guard::new(self)
    }
}

// With lockdep (`CONFIG_DEBUG_LOCK_ALLOC`) the C API is a macro over the
// `_nested` variant.
/// # Safety
///
/// `raw` must point to an initialised, pinned mutex.
#[cfg(not(CONFIG_DEBUG_LOCK_ALLOC))]
unsafe fn lock_interruptible(raw: *mut bindings::mutex) -> core::ffi::c_int {
    // SAFETY: the caller passes an initialised mutex.
    unsafe { bindings::mutex_lock_interruptible(raw) }
}

/// # Safety
///
/// `raw` must point to an initialised, pinned mutex.
#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
unsafe fn lock_interruptible(raw: *mut bindings::mutex) -> core::ffi::c_int {
    // SAFETY: the caller passes an initialised mutex.
    unsafe { bindings::mutex_lock_interruptible_nested(raw, 0) }
}

/// Proof of holding the lock; unlocks when dropped. Not `Send`: a mutex is
/// released by the task that took it.
pub(crate) struct Guard<'a, T> {
    lock: &'a InterruptibleMutex<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<'a, T> Guard<'a, T> {
    fn new(lock: &'a InterruptibleMutex<T>) -> Self {
        Self {
            lock,
            _not_send: PhantomData,
        }
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no one else accesses `data`.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, so no one else accesses `data`.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the guard was created by taking this lock and still holds it.
        unsafe { bindings::mutex_unlock(self.lock.raw.get()) };
    }
}
