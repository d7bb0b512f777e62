// SPDX-License-Identifier: GPL-2.0-only

//! `struct poll_table_struct` and `poll_wait()` (include/linux/poll.h).
//!
//! The bindings of Linux 6.18 and later have both (the type, and a helper
//! for the inline function); 6.12's leave the type opaque, so there the
//! layout is a copy of the C struct (unchanged since Linux 2.6) and
//! `poll_wait()` is written out. On 6.18 and later the copy is still
//! compiled and compared with the bindings, as evidence that it is current.

use kernel::bindings;

type PollQueueProc =
    unsafe extern "C" fn(*mut bindings::file, *mut bindings::wait_queue_head, *mut PollTable);

/// The layout of `struct poll_table_struct`.
#[repr(C)]
struct PollTable {
    qproc: Option<PollQueueProc>,
    key: bindings::__poll_t,
}

#[cfg(asyncn_6_18)]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<PollTable>() == size_of::<bindings::poll_table_struct>());
    assert!(offset_of!(PollTable, qproc) == offset_of!(bindings::poll_table_struct, _qproc));
    assert!(offset_of!(PollTable, key) == offset_of!(bindings::poll_table_struct, _key));
};

/// `poll_wait(file, queue, table)`.
///
/// # Safety
///
/// `table` is null or the live table of a `poll` call on `file`; `queue`
/// is initialised and outlives the registration (until the poller removes
/// itself, at the latest when `file` is released).
pub(crate) unsafe fn poll_wait(
    file: *mut bindings::file,
    queue: *mut bindings::wait_queue_head,
    table: *mut bindings::poll_table_struct,
) {
    #[cfg(asyncn_6_18)]
    // SAFETY: `poll_wait` needs a table that is null or live for this
    // `poll` call on `file`, and a queue that outlives the registration:
    // the caller's guarantees.
    unsafe {
        bindings::poll_wait(file, queue, table)
    };
    #[cfg(not(asyncn_6_18))]
    {
        let table = table.cast::<PollTable>();
        if table.is_null() {
            return;
        }
        // SAFETY: a non-null `table` is the live table of this `poll` call
        // (the caller's guarantee), so its `qproc` can be read.
        let Some(qproc) = (unsafe { (*table).qproc }) else {
            return;
        };
        // SAFETY: `qproc` is the VFS's queueing function for this table,
        // which takes this call's file, a queue that outlives the
        // registration and the table: the caller's guarantees.
        unsafe { qproc(file, queue, table) };
        // As in C: pairs with the waker's barrier before its look at the
        // queue (`wq_has_sleeper()`), so the caller's readiness check that
        // follows cannot be reordered before the queueing.
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    }
}
