// SPDX-License-Identifier: GPL-2.0-only

//! Messages: a buffer of `buffer_size` bytes and a length, filled by one
//! writer, then shared by the device and the readers copying it out.
//!
//! The reference count is a Rust atomic, inline at every use. The
//! `kernel` crate's `Arc` keeps it in a `refcount_t`, whose operations are
//! out-of-line helper calls on the kernels this driver supports: two calls
//! per read and four per write (`into_unique_or_drop`, its two helpers and
//! a drop), which `make bench` measured at several percent of a write
//! (docs/design.md).
//!
//! On 7.3 kernels built with Clang, `CONFIG_RUST_INLINE_HELPERS` inlines
//! those helpers too; this type keeps the cost the same on every supported
//! kernel. Unlike `refcount_t`, it does not warn on misuse: the driver's
//! only uses are the ones in `asyncn.rs`, and a count can only saturate
//! (and leak) after `isize::MAX` references were leaked on purpose.
//!
//! - [`UniqueMessage`]: the only reference; its bytes can be written.
//! - [`SharedMessage`]: one of the references to a published message;
//!   read-only. [`SharedMessage::into_unique_or_drop`] turns the last one
//!   back into a `UniqueMessage` (the next write's spare buffer).

use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicUsize, Ordering};
use kernel::prelude::*;

/// Counts at or above this are saturated: never decremented to zero, the
/// message is leaked instead of freed (`refcount_t`'s rule). Reaching it
/// takes `isize::MAX` references, each leaked on purpose.
const SATURATED: usize = isize::MAX as usize;

struct Inner {
    /// References to this message.
    count: AtomicUsize,
    /// Length of the message in `bytes`.
    len: usize,
    /// `buffer_size` bytes (kvmalloc: large sizes need no high-order page).
    bytes: KVVec<u8>,
}

/// Frees a message no reference points to any more. Out of line, so
/// that dropping a reference (or an empty `Option` of one) inlines to a
/// test on the hot paths.
///
/// # Safety
///
/// `ptr` came from `KBox::leak` in [`UniqueMessage::new`], and no
/// reference to it remains.
#[cold]
#[inline(never)]
unsafe fn free(ptr: NonNull<Inner>) {
    // SAFETY: per the contract, the allocation is ours alone.
    drop(unsafe { KBox::from_raw(ptr.as_ptr()) });
}

/// A message buffer nobody else references: filled by a write.
pub(crate) struct UniqueMessage(NonNull<Inner>);

/// A reference to a published message; the bytes no longer change.
pub(crate) struct SharedMessage(NonNull<Inner>);

// SAFETY: a `UniqueMessage` owns its `Inner` alone, which is `Send`.
unsafe impl Send for UniqueMessage {}
// SAFETY: the shared `Inner` is only read (bytes, len) or changed through
// the atomic count; the last reference frees it, from any task.
unsafe impl Send for SharedMessage {}
// SAFETY: as above; `&SharedMessage` gives only reads and `clone`.
unsafe impl Sync for SharedMessage {}

impl UniqueMessage {
    /// A zeroed, empty message buffer of `size` bytes.
    pub(crate) fn new(size: usize) -> Result<Self> {
        let inner = KBox::new(
            Inner {
                count: AtomicUsize::new(1),
                len: 0,
                bytes: KVVec::from_elem(0u8, size, GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?;
        Ok(Self(NonNull::from(KBox::leak(inner))))
    }

    /// The whole buffer, to be filled.
    #[inline]
    pub(crate) fn buffer(&mut self) -> &mut [u8] {
        // SAFETY: the pointer came from `KBox::leak` and is valid while
        // this reference exists; it is the only one, so nothing else reads
        // or writes `Inner` meanwhile.
        unsafe { &mut self.0.as_mut().bytes }
    }

    /// Sets the message's length; at most the buffer's size.
    #[inline]
    pub(crate) fn set_len(&mut self, len: usize) {
        // SAFETY: as in `buffer`.
        let inner = unsafe { self.0.as_mut() };
        inner.len = len.min(inner.bytes.len());
    }

    /// Publishes the message: from now on its bytes are only read.
    #[inline]
    pub(crate) fn share(self) -> SharedMessage {
        let ptr = self.0;
        core::mem::forget(self);
        // The count (1) moves from the unique reference to the shared one.
        SharedMessage(ptr)
    }
}

impl Drop for UniqueMessage {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the only reference, to a message made by `new`.
        unsafe { free(self.0) };
    }
}

impl SharedMessage {
    fn inner(&self) -> &Inner {
        // SAFETY: the pointer came from `KBox::leak` and stays valid while
        // a reference (this one) exists.
        unsafe { self.0.as_ref() }
    }

    /// The message: its length's worth of bytes, never what an older,
    /// longer message left in the buffer.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        let inner = self.inner();
        &inner.bytes[..inner.len]
    }

    /// The buffer back for writing if this is the last reference;
    /// otherwise the reference is given up. Never frees: a caller holding
    /// a lock frees nothing under it (the last other holder frees).
    #[inline]
    pub(crate) fn into_unique_or_drop(self) -> Option<UniqueMessage> {
        let this = ManuallyDrop::new(self);
        let count = &this.inner().count;
        // A count of 1 is this reference: no other exists, and none can be
        // made, since a new one is only made from an existing one.
        // Acquire pairs with the Release of the other holders' drops, so
        // their reads of the bytes happen before the next write to them.
        if count.load(Ordering::Acquire) == 1 {
            return Some(UniqueMessage(this.0));
        }
        // Others held it a moment ago; one may have let go since. Release:
        // as in `drop`.
        let before = count.fetch_sub(1, Ordering::Release);
        if before >= SATURATED {
            count.store(SATURATED, Ordering::Relaxed);
            return None;
        }
        if before == 1 {
            // The others let go meanwhile: the buffer is ours after all,
            // and nobody else can reach it to see the count go 0, then 1.
            fence(Ordering::Acquire);
            count.store(1, Ordering::Relaxed);
            return Some(UniqueMessage(this.0));
        }
        None
    }
}

impl Clone for SharedMessage {
    #[inline]
    fn clone(&self) -> Self {
        // Relaxed: a new reference is made from one this task holds, so
        // the message cannot be freed meanwhile (as in `Arc::clone`).
        let count = &self.inner().count;
        if count.fetch_add(1, Ordering::Relaxed) >= SATURATED {
            count.store(SATURATED, Ordering::Relaxed);
        }
        Self(self.0)
    }
}

impl Drop for SharedMessage {
    #[inline]
    fn drop(&mut self) {
        let count = &self.inner().count;
        // Release: this holder's reads of the bytes happen before the
        // free, or before the next write by `into_unique_or_drop`'s caller.
        let before = count.fetch_sub(1, Ordering::Release);
        if before >= SATURATED {
            count.store(SATURATED, Ordering::Relaxed);
            return;
        }
        if before != 1 {
            return;
        }
        // Acquire: every other holder's Release decrement happens before
        // the free.
        fence(Ordering::Acquire);
        // SAFETY: this was the last reference to a message made by
        // `UniqueMessage::new`.
        unsafe { free(self.0) };
    }
}
