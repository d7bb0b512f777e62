// SPDX-License-Identifier: GPL-2.0-only

//! Messages: a buffer of `buffer_size` bytes and a length, filled by one
//! writer, then shared by the device and the readers copying it out.
//!
//! The reference count is a Rust atomic, inline at every use, rather than
//! the `kernel` crate's `Arc`, whose `refcount_t` operations are
//! out-of-line helper calls on the kernels this driver supports; why, and
//! what `make bench` measured, is in docs/design.md. It keeps
//! `refcount_t`'s rules: a count that would overflow saturates (the
//! message leaks), and misuse (a reference taken from or dropped at a
//! count of 0, or a saturated count) warns.
//!
//! - [`UniqueMessage`]: the only reference; its bytes can be written.
//! - [`SharedMessage`]: one of the references to a published message;
//!   read-only. [`into_spare`] turns the last one back into a
//!   `UniqueMessage` (the next write's spare buffer).

use crate::compat::bug::warn_on;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicUsize, Ordering};
use kernel::prelude::*;

/// Counts at or above this are saturated: never decremented to zero, the
/// message is leaked instead of freed (`refcount_t`'s rule). Reaching it
/// takes `isize::MAX` references, each leaked on purpose.
const SATURATED: usize = isize::MAX as usize;

/// A message buffer, its length and its reference count.
///
/// # Invariants
///
/// - `len <= bytes.len()`.
/// - `count` is the number of [`UniqueMessage`]s and [`SharedMessage`]s
///   pointing at this message (1 for a `UniqueMessage`, which is the only
///   one), or at least `SATURATED`, after which the message is never
///   freed.
pub(crate) struct Message {
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
/// `ptr` came from `KBox::leak` in [`Message::new_unique`], and no
/// reference to it remains.
#[cold]
#[inline(never)]
unsafe fn free(ptr: NonNull<Message>) {
    // SAFETY: `KBox::from_raw` needs a pointer from `KBox::into_raw` (or
    // `leak`) that nothing else owns: the caller's guarantee.
    drop(unsafe { KBox::from_raw(ptr.as_ptr()) });
}

/// A message buffer nobody else references: filled by a write.
///
/// # Invariants
///
/// Points to a live `Message` whose count is 1: this is its only reference.
pub(crate) struct UniqueMessage(NonNull<Message>);

/// A reference to a published message; the bytes no longer change.
///
/// # Invariants
///
/// Points to a live `Message` whose count includes this reference, and
/// whose `len` and `bytes` are no longer written.
pub(crate) struct SharedMessage(NonNull<Message>);

// SAFETY: `Send` requires that the value may move to another task: a
// `UniqueMessage` owns its `Message` alone, which is `Send`.
unsafe impl Send for UniqueMessage {}
// SAFETY: `Send` requires that the reference may be dropped on another
// task: the shared `Message` is only read (bytes, len) or changed through
// the atomic count, and the last reference frees it, from any task.
unsafe impl Send for SharedMessage {}
// SAFETY: `Sync` requires that `&SharedMessage` be usable from many tasks:
// it gives only reads of the unchanging bytes and `clone`, which changes
// the count atomically.
unsafe impl Sync for SharedMessage {}

impl Message {
    /// A zeroed, empty message buffer of `size` bytes.
    pub(crate) fn new_unique(size: usize) -> Result<UniqueMessage> {
        // INVARIANT: the length is 0 and the count 1, the one reference
        // made below.
        let message = KBox::new(
            Message {
                count: AtomicUsize::new(1),
                len: 0,
                bytes: KVVec::from_elem(0u8, size, GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?;
        Ok(UniqueMessage(NonNull::from(KBox::leak(message))))
    }
}

impl UniqueMessage {
    /// The whole buffer, to be filled.
    #[inline]
    pub(crate) fn buffer(&mut self) -> &mut [u8] {
        // SAFETY: `as_mut` needs a valid pointer and no other reference to
        // the `Message` meanwhile: it is live and this is its only
        // reference (the type invariant), borrowed mutably.
        unsafe { &mut self.0.as_mut().bytes }
    }

    /// Sets the message's length; at most the buffer's size.
    #[inline]
    pub(crate) fn set_len(&mut self, len: usize) {
        // SAFETY: as in `buffer`.
        let message = unsafe { self.0.as_mut() };
        // INVARIANT: clamped to the buffer's length.
        message.len = len.min(message.bytes.len());
    }
}

impl From<UniqueMessage> for SharedMessage {
    /// Publishes the message: from now on its bytes are only read.
    #[inline]
    fn from(message: UniqueMessage) -> Self {
        let ptr = message.0;
        core::mem::forget(message);
        // INVARIANT: the count (1) moves from the unique reference to the
        // shared one, and nothing writes the bytes any more.
        SharedMessage(ptr)
    }
}

impl Drop for UniqueMessage {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `free` needs a message from `new_unique` with no other
        // reference: this is its only one (the type invariant).
        unsafe { free(self.0) };
    }
}

impl SharedMessage {
    fn message(&self) -> &Message {
        // SAFETY: `as_ref` needs a valid pointer with no `&mut` to the
        // target meanwhile: the message lives while this reference does,
        // and is only read (the type invariant).
        unsafe { self.0.as_ref() }
    }

    /// The message: its length's worth of bytes, never what an older,
    /// longer message left in the buffer.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        let inner = self.message();
        &inner.bytes[..inner.len]
    }
}

/// The buffer back for writing if `message` is the last reference;
/// otherwise the reference is given up. Never frees: a caller holding a
/// lock frees nothing under it (the last other holder frees).
#[inline]
pub(crate) fn into_spare(message: SharedMessage) -> Option<UniqueMessage> {
    let this = ManuallyDrop::new(message);
    let count = &this.message().count;
    // A count of 1 is this reference: no other exists, and none can be
    // made, since a new one is only made from an existing one.
    // Acquire pairs with the Release of the other holders' drops, so
    // their reads of the bytes happen before the next write to them.
    if count.load(Ordering::Acquire) == 1 {
        // INVARIANT: the only reference, count 1.
        return Some(UniqueMessage(this.0));
    }
    // Others held it a moment ago; one may have let go since. Release:
    // as in `drop`.
    let before = count.fetch_sub(1, Ordering::Release);
    if warn_on!(before == 0) || before >= SATURATED {
        // A reference at a count of 0, or a saturated count: leak.
        count.store(SATURATED, Ordering::Relaxed);
        return None;
    }
    if before == 1 {
        // The others let go meanwhile: the buffer is ours after all,
        // and nobody else can reach it to see the count go 0, then 1.
        fence(Ordering::Acquire);
        // INVARIANT: the only reference, count 1 again.
        count.store(1, Ordering::Relaxed);
        return Some(UniqueMessage(this.0));
    }
    None
}

impl Clone for SharedMessage {
    #[inline]
    fn clone(&self) -> Self {
        // Relaxed: a new reference is made from one this task holds, so
        // the message cannot be freed meanwhile (as in `Arc::clone`).
        let count = &self.message().count;
        if count.fetch_add(1, Ordering::Relaxed) >= SATURATED {
            // INVARIANT: a saturated count stays saturated (the message
            // leaks); reaching it means references were leaked.
            count.store(SATURATED, Ordering::Relaxed);
            warn_on!(true);
        }
        Self(self.0)
    }
}

impl Drop for SharedMessage {
    #[inline]
    fn drop(&mut self) {
        let count = &self.message().count;
        // Release: this holder's reads of the bytes happen before the
        // free, or before the next write by `into_spare`'s caller.
        let before = count.fetch_sub(1, Ordering::Release);
        if warn_on!(before == 0) || before >= SATURATED {
            // A drop at a count of 0 (a reference was not counted), or a
            // saturated count: leak rather than free twice.
            count.store(SATURATED, Ordering::Relaxed);
            return;
        }
        if before != 1 {
            return;
        }
        // Acquire: every other holder's Release decrement happens before
        // the free.
        fence(Ordering::Acquire);
        // SAFETY: `free` needs a message from `new_unique` with no other
        // reference: the count was 1, this one.
        unsafe { free(self.0) };
    }
}
