// SPDX-License-Identifier: GPL-2.0-only

//! Sleeping primitives the driver needs beyond the `kernel` crate's.
//!
//! - [`InterruptibleMutex`]: the `kernel` crate's `Mutex` only offers an
//!   uninterruptible `lock()`. A character device must let a signal
//!   interrupt a task waiting for the lock (`mutex_lock_interruptible()`
//!   returning `-ERESTARTSYS` to the syscall), so this is the same pinned C
//!   mutex with both entry points.
//! - [`WaitQueue`]: a C wait queue usable both for blocking reads and for
//!   `poll`, which needs the raw queue head.

use crate::compat::StaticLockClass;
use core::ffi::CStr;
use core::{
    cell::UnsafeCell,
    marker::{PhantomData, PhantomPinned},
    ops::{Deref, DerefMut},
};
use kernel::{bindings, error::code::ERESTARTSYS, prelude::*, types::Opaque};

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
        key: impl StaticLockClass,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes while the closure runs and is
            // pinned afterwards; `name` and `key` are static.
            raw <- Opaque::ffi_init(|slot| unsafe {
                bindings::__mutex_init(slot, crate::chrdev::c_chars(name), key.as_key_ptr())
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

/// A kernel wait queue (`wait_queue_head_t`): tasks sleep on it until a
/// condition holds; `poll` registers on it too.
#[pin_data]
pub(crate) struct WaitQueue {
    #[pin]
    raw: Opaque<bindings::wait_queue_head>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the wait queue has its own spinlock; every operation on it is
// safe from any task.
unsafe impl Send for WaitQueue {}
// SAFETY: as above.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    /// An initialiser of an empty queue; `name` and `key` are lockdep's.
    pub(crate) fn new(name: &'static CStr, key: impl StaticLockClass) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned afterwards;
            // `name` and `key` are static.
            raw <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(
                    slot,
                    crate::chrdev::c_chars(name),
                    key.as_key_ptr(),
                )
            }),
            _pin: PhantomPinned,
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::wait_queue_head {
        self.raw.get()
    }

    /// Sleeps until `condition()` holds (`wait_event_interruptible()`); a
    /// signal ends the wait with `ERESTARTSYS`.
    pub(crate) fn wait_interruptible(&self, condition: impl Fn() -> bool) -> Result {
        if condition() {
            return Ok(());
        }
        let mut entry = core::mem::MaybeUninit::<bindings::wait_queue_entry>::uninit();
        let entry = entry.as_mut_ptr();
        // SAFETY: `entry` lives on this stack frame, is not moved, and is
        // removed from the queue by `finish_wait` before the frame ends.
        unsafe { bindings::init_wait_entry(entry, 0) };
        let mut result = Ok(());
        loop {
            // SAFETY: queue and entry are initialised; this also sets the
            // task state, so a wake-up after the check below is not lost.
            let pending = unsafe {
                bindings::prepare_to_wait_event(
                    self.raw.get(),
                    entry,
                    bindings::TASK_INTERRUPTIBLE as core::ffi::c_int,
                )
            };
            if condition() {
                break;
            }
            if pending != 0 {
                result = Err(ERESTARTSYS);
                break;
            }
            // SAFETY: sleeping is allowed here: no spinlock is held.
            unsafe { bindings::schedule() };
        }
        // SAFETY: `entry` was set up by `init_wait_entry` above.
        unsafe { bindings::finish_wait(self.raw.get(), entry) };
        result
    }

    /// Wakes every interruptible sleeper and poller, but only one
    /// `EPOLLEXCLUSIVE` waiter (`wake_up_interruptible_poll()`); `key` is
    /// the poll mask that became true (epoll uses it to skip unrelated
    /// wake-ups).
    ///
    /// Takes the queue's lock only when someone waits (`wq_has_sleeper()`):
    /// the full barrier orders the caller's update of the condition before
    /// the look at the queue, and pairs with the one in
    /// `prepare_to_wait_event()` (sleepers) and at the end of
    /// `PollTable::register` (pollers), so a waiter either sees the new
    /// condition or is seen here.
    pub(crate) fn wake_up_poll(&self, key: u32) {
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        let head = self.raw.get();
        // SAFETY: the queue is initialised. Reading `head.next` without the
        // lock is `waitqueue_active()`'s `list_empty()` (a `READ_ONCE`).
        let empty = unsafe {
            let list = core::ptr::addr_of_mut!((*head).head);
            core::ptr::read_volatile(core::ptr::addr_of!((*list).next)) == list
        };
        if empty {
            return;
        }
        // SAFETY: the queue is initialised; `key` is passed as an integer
        // cast to a pointer, as `wake_up_interruptible_poll()` does. One
        // exclusive waiter (`nr_exclusive` 1): the rest of an
        // `EPOLLEXCLUSIVE` herd sleeps on; sleepers and other pollers queue
        // non-exclusively and all wake.
        unsafe {
            bindings::__wake_up(
                self.raw.get(),
                bindings::TASK_INTERRUPTIBLE,
                1,
                key as usize as *mut core::ffi::c_void,
            )
        };
    }
}
