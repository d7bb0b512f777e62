// SPDX-License-Identifier: GPL-2.0-only

//! Sleeping primitives the driver needs and no `kernel` crate version
//! provides (checked in 6.12, 6.18 and 7.3):
//!
//! - [`InterruptibleMutex`]: `kernel::sync::Mutex` offers `lock()` and
//!   `try_lock()`, both uninterruptible. The contract (docs/device.md)
//!   requires that a signal interrupt a task waiting for the device mutex
//!   (`mutex_lock_interruptible()` returning `-ERESTARTSYS` to the
//!   syscall), so this is the same pinned C mutex with both entry points.
//! - [`WaitQueue`]: a C wait queue for blocking reads and `poll`.
//!   `kernel::sync::CondVar` (and `poll::PollCondVar`, 6.13 on) queues its
//!   sleepers exclusively and wakes them with `notify_all` (`nr_exclusive`
//!   0, which wakes every `EPOLLEXCLUSIVE` waiter too) or `notify_one`
//!   (one sleeper only). The contract needs every blocked reader and
//!   poller woken but only one `EPOLLEXCLUSIVE` waiter, which is
//!   `wake_up_interruptible_poll()`: non-exclusive sleepers and
//!   `nr_exclusive` 1.
//!
//! Both take their lockdep class as `Pin<&'static LockClassKey>`, as
//! upstream's locks do: a key that lives as long as the kernel.

use crate::compat::{str::CStrExt, sync::lock_class_ptr};
use core::ffi::CStr;
use core::{
    cell::UnsafeCell,
    marker::{PhantomData, PhantomPinned},
    ops::{Deref, DerefMut},
    pin::Pin,
};
use kernel::{bindings, error::code::ERESTARTSYS, prelude::*, sync::LockClassKey, types::Opaque};

/// Data `T` protected by a kernel mutex.
///
/// # Invariants
///
/// `raw` is an initialised C mutex, and `data` is accessed only by the
/// task that holds it, through a [`Guard`].
#[pin_data]
pub(crate) struct InterruptibleMutex<T> {
    #[pin]
    raw: Opaque<bindings::mutex>,
    data: UnsafeCell<T>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: `Send` requires that moving the mutex to another task be sound:
// it owns its `T`, so that holds when `T: Send`.
unsafe impl<T: Send> Send for InterruptibleMutex<T> {}
// SAFETY: `Sync` requires that sharing `&InterruptibleMutex<T>` between tasks
// be sound: the mutex hands out access to `T` to one task at a time (the
// type invariant), which moves `T` between tasks, so that holds when
// `T: Send`.
unsafe impl<T: Send> Sync for InterruptibleMutex<T> {}

impl<T> InterruptibleMutex<T> {
    /// An initialiser for a mutex protecting `data`; `name` and `key` are
    /// lockdep's class name and key.
    pub(crate) fn new(
        data: T,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        // INVARIANT: `__mutex_init` initialises `raw`; `data` is reachable
        // only through the guards made below.
        pin_init!(Self {
            // SAFETY: `__mutex_init` needs a mutex-sized slot that stays in
            // place (it is pinned from here on) and a name and a lockdep key
            // that outlive it (both are static).
            raw <- Opaque::ffi_init(|slot| unsafe {
                bindings::__mutex_init(slot, name.as_char_ptr(), lock_class_ptr(key))
            }),
            data: UnsafeCell::new(data),
            _pin: PhantomPinned,
        })
    }

    /// Waits for the lock; a signal ends the wait with `ERESTARTSYS`.
    pub(crate) fn lock_interruptible(&self) -> Result<Guard<'_, T>> {
        // SAFETY: `lock_interruptible` needs an initialised mutex: the type
        // invariant.
        let ret = unsafe { lock_interruptible(self.raw.get()) };
        if ret != 0 {
            return Err(ERESTARTSYS);
        }
        // INVARIANT: this task holds the lock now.
        Ok(Guard::new(self))
    }

    /// Waits for the lock, ignoring signals (for paths that cannot fail,
    /// such as `release`).
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        // SAFETY: `mutex_lock` needs an initialised mutex: the type invariant.
        unsafe { bindings::mutex_lock(self.raw.get()) };
        // INVARIANT: this task holds the lock now.
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
    // SAFETY: the caller guarantees that `raw` is an initialised mutex.
    unsafe { bindings::mutex_lock_interruptible(raw) }
}

/// # Safety
///
/// `raw` must point to an initialised, pinned mutex.
#[cfg(CONFIG_DEBUG_LOCK_ALLOC)]
unsafe fn lock_interruptible(raw: *mut bindings::mutex) -> core::ffi::c_int {
    // SAFETY: the caller guarantees that `raw` is an initialised mutex.
    unsafe { bindings::mutex_lock_interruptible_nested(raw, 0) }
}

/// Proof of holding the lock; unlocks when dropped. Not `Send`: a mutex is
/// released by the task that took it.
///
/// # Invariants
///
/// The current task holds `lock`'s mutex while the guard exists.
#[must_use = "the lock unlocks immediately when the guard is unused"]
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
        // SAFETY: the guard holds the lock (the type invariant), and only
        // the holder accesses `data` (the mutex's invariant): no `&mut`
        // to it exists elsewhere.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference
        // the guard hands out meanwhile.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: `mutex_unlock` must be called by the holder: this task
        // holds the mutex (the type invariant), and the guard ends here.
        unsafe { bindings::mutex_unlock(self.lock.raw.get()) };
    }
}

/// A kernel wait queue (`wait_queue_head_t`): tasks sleep on it until a
/// condition holds; `poll` registers on it too.
///
/// # Invariants
///
/// `raw` is an initialised wait queue head.
#[pin_data]
pub(crate) struct WaitQueue {
    #[pin]
    raw: Opaque<bindings::wait_queue_head>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: `Send` requires that the queue may be used from another task:
// a wait queue head belongs to no task.
unsafe impl Send for WaitQueue {}
// SAFETY: `Sync` requires that `&WaitQueue` be usable from many tasks at
// once: every operation on the queue takes its own spinlock, or only reads
// its list head (`wake_up_poll`, as `waitqueue_active()` does).
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    /// An initialiser of an empty queue; `name` and `key` are lockdep's.
    pub(crate) fn new(name: &'static CStr, key: Pin<&'static LockClassKey>) -> impl PinInit<Self> {
        // INVARIANT: `__init_waitqueue_head` initialises `raw`.
        pin_init!(Self {
            // SAFETY: `__init_waitqueue_head` needs a slot that stays in
            // place (pinned from here on) and a name and lockdep key that
            // outlive it (both are static).
            raw <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(
                    slot,
                    name.as_char_ptr(),
                    lock_class_ptr(key),
                )
            }),
            _pin: PhantomPinned,
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::wait_queue_head {
        self.raw.get()
    }

    /// Sleeps until `condition()` holds (`wait_event_interruptible()`); a
    /// signal ends the wait with `ERESTARTSYS`. `condition` runs with the
    /// task state set to `TASK_INTERRUPTIBLE`: it must not sleep.
    pub(crate) fn wait_interruptible(&self, condition: impl Fn() -> bool) -> Result {
        if condition() {
            return Ok(());
        }
        let mut entry = core::mem::MaybeUninit::<bindings::wait_queue_entry>::uninit();
        let entry = entry.as_mut_ptr();
        // SAFETY: `init_wait_entry` needs memory for an entry; `entry` lives
        // on this stack frame, is not moved, and is off the queue
        // (`finish_wait` below) before the frame ends.
        unsafe { bindings::init_wait_entry(entry, 0) };
        let mut result = Ok(());
        loop {
            // SAFETY: `prepare_to_wait_event` needs an initialised queue (the
            // type invariant) and entry (above). It also sets the task
            // state, so a wake-up after the check below is not lost.
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
            // SAFETY: `schedule` must not be called in atomic context: the
            // callers (file operations) hold no spinlock and run with
            // preemption enabled.
            unsafe { bindings::schedule() };
        }
        // SAFETY: `finish_wait` needs the queue and an entry initialised by
        // `init_wait_entry` (above), queued on it or not.
        unsafe { bindings::finish_wait(self.raw.get(), entry) };
        result
    }

    /// Wakes every interruptible sleeper and poller, but only one
    /// `EPOLLEXCLUSIVE` waiter (`wake_up_interruptible_poll()`); `key` is
    /// the poll mask that became true (epoll uses it to skip unrelated
    /// wake-ups).
    ///
    /// Takes the queue's lock only when someone waits (an open-coded
    /// `wq_has_sleeper()`): the full barrier orders the caller's update of
    /// the condition before the look at the queue, and pairs with the one
    /// in `prepare_to_wait_event()` (sleepers) and at the end of
    /// `poll_wait()` (pollers), so a waiter either sees the new condition
    /// or is seen here.
    pub(crate) fn wake_up_poll(&self, key: u32) {
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        let head = self.raw.get();
        // SAFETY: the queue is initialised (the type invariant), so its
        // list head is valid. Reading `head.next` without the lock is
        // `waitqueue_active()`'s `list_empty()` (a `READ_ONCE`).
        let empty = unsafe {
            let list = core::ptr::addr_of_mut!((*head).head);
            core::ptr::read_volatile(core::ptr::addr_of!((*list).next)) == list
        };
        if empty {
            return;
        }
        // SAFETY: `__wake_up` needs an initialised queue (the type
        // invariant); `key` is passed as an integer cast to a pointer, as
        // `wake_up_interruptible_poll()` does, and never dereferenced. One
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
