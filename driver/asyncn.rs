// SPDX-License-Identifier: GPL-2.0-only

//! asyncn: signal-driven asynchronous notification (`fasync`, `SIGIO`).
//!
//! Each device `/dev/asyncnN` holds one message in a fixed-size buffer.
//! A write replaces the message and notifies every subscribed open file
//! (`fcntl(F_SETOWN)` + `O_ASYNC`) with `SIGIO`, band `POLL_IN`, and wakes
//! blocked readers and pollers.
//!
//! Every write that succeeds gives the message a new generation number.
//! Each open file remembers the generation it read last: `read` returns
//! the current message when the file has not read it yet, otherwise it
//! blocks until the next write (or fails with `EAGAIN` under `O_NONBLOCK`).
//! `poll` reports `POLLIN | POLLRDNORM` exactly when `read` would not block,
//! and `POLLOUT | POLLWRNORM` to writers (a write never waits for readers).
//!
//! One system call is one message: `write`, `writev` and io_uring writes
//! make one message of all their buffers; `read`, `readv` and io_uring
//! reads take one message into all of theirs. A zero-length read returns 0
//! and changes nothing.
//!
//! No user memory is touched with a device lock held: a write copies the
//! user's bytes into a buffer of its own, then publishes it by swapping it
//! in under the mutex; a read takes a reference to the current message
//! under the mutex and copies it out after unlocking. A reader or writer
//! stalled on a page fault blocks no one, and a write that faults leaves
//! the previous message in place.
//!
//! Module parameters: `devices` (1..=256, default 1) and `buffer_size`
//! (1..=65536 bytes, default 256). Out-of-range values fail the load with
//! `EINVAL` and a kernel log line saying why.
//!
//! Statistics, read-only, in `/sys/class/asyncn/asyncnN/`: `buffer_size`,
//! `readers`, `writers`, `subscribers` (open files now), `writes`,
//! `notifications` (signals requested since load: per write, the number of
//! subscribers at that moment).
//!
//! # Messages
//!
//! A message is a reference-counted buffer of `buffer_size` bytes and a
//! length (`message.rs`). The device holds the current one and a spare;
//! both are allocated, zeroed, on the first open and freed when the last
//! open file is released. A write takes the spare (or allocates a buffer
//! if a reader still holds the one that would be spare), fills it, and
//! publishes it; the message it replaces becomes the spare if no reader
//! holds it. In the steady state, two buffers per device take turns and a
//! write allocates nothing.
//!
//! # Locking
//!
//! - `AsyncnDevice::state` (a mutex) protects the current message, the
//!   spare, the generation counter and the open count. It is held only to
//!   take or swap references: never across a user copy or an allocation of
//!   a message. `read`/`write`/`open` wait for it interruptibly (a signal
//!   gives `-ERESTARTSYS`); `release` cannot fail and waits
//!   uninterruptibly, which is bounded because no holder waits on user
//!   memory.
//! - `AsyncnDevice::current` (the generation of the readable message, 0 for
//!   none) is written under the mutex and read without it by the wait
//!   condition and `poll`. `OpenFile::seen` is claimed under the mutex by
//!   the file's own reads, and given back without it (compare-and-swap) by
//!   a read whose copy faulted. Statistics are atomics; `writes` and
//!   `notifications` are written only under the mutex (plain stores).
//! - `AsyncnDevice::subscribers` (the fasync list) and `readable` (the wait
//!   queue) have their own locking. Wake-ups and signals are sent after the
//!   mutex is released, so a woken reader never waits for the writer's lock.
//!   The wake-up skips the queue's lock when no one waits: a full barrier
//!   after the update of `current`, paired with one after queueing in
//!   `prepare_to_wait_event` and in `poll`, means a waiter either sees the
//!   new message or is seen by the writer.
//! - Nothing else is shared between tasks. Module data is created before
//!   the devices can be opened and destroyed after the last one is gone.

use core::ffi::CStr;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{bindings, ffi::c_int, prelude::*};

mod chrdev;
mod compat;
mod message;
mod params;
mod sync;
mod trace;

use chrdev::{
    poll::{EPOLLIN, EPOLLOUT, EPOLLRDNORM, EPOLLWRNORM},
    CharDevices, FasyncQueue, File, FileOperations, IovDest, IovSource, PollTable,
};
use compat::{bug::warn_on, sync::static_lock_class};
use message::{Message, SharedMessage, UniqueMessage};
use sync::{InterruptibleMutex, WaitQueue};
use trace::trace;

module! {
    type: Asyncn,
    name: "asyncn",
    description: "Signal-driven asynchronous notification (fasync/SIGIO) character device",
    // The kernel's name for GPL v2 (license-rules.rst): COPYING, GPL-2.0-only.
    license: "GPL",
}

// `module!` spells this key differently across kernel versions.
params::modinfo!("author", "asyncn developers");

params::uint_param!(
    DEVICES,
    "devices",
    1,
    "Number of devices /dev/asyncnN (1-256)"
);
params::uint_param!(
    BUFFER_SIZE,
    "buffer_size",
    256,
    "Size of each device's message buffer in bytes (1-65536)"
);

const DEVICES_MAX: u32 = 256;
const BUFFER_SIZE_MAX: u32 = 65536;
const NAME: &CStr = c"asyncn";

chrdev::declare_attribute_groups!(ASYNCN_ATTRIBUTES, AsyncnDevice, [
    "buffer_size" => |device| device.buffer_size as u64,
    "readers" => |device| device.stats.readers.load(Ordering::Relaxed).into(),
    "writers" => |device| device.stats.writers.load(Ordering::Relaxed).into(),
    "subscribers" => |device| device.stats.subscribers.load(Ordering::Relaxed).into(),
    "writes" => |device| device.stats.writes.load(Ordering::Relaxed),
    "notifications" => |device| device.stats.notifications.load(Ordering::Relaxed),
]);

chrdev::file_operations_table!(ASYNCN_FOPS, AsyncnDevice);

/// What the device mutex protects.
///
/// # Invariants
///
/// - `message` is `Some` exactly when the device's `current` is nonzero,
///   and then `current` is `generation`.
/// - `opens` counts the device's open files; the buffers exist only while
///   it is nonzero.
struct State {
    /// The current message; `None` before the first write.
    message: Option<SharedMessage>,
    /// A buffer for the next write; allocated on the first open, refilled
    /// with the message a write replaces when no reader holds it.
    spare: Option<UniqueMessage>,
    /// Generation of the last successful write (never reused).
    generation: u64,
    /// Open files of the device.
    opens: u32,
}

/// Statistics shown in sysfs. `writes` and `notifications` change only
/// under the device mutex (`writes` is the generation counter).
#[derive(Default)]
struct Stats {
    readers: AtomicU32,
    writers: AtomicU32,
    subscribers: AtomicU32,
    writes: AtomicU64,
    notifications: AtomicU64,
}

/// One `/dev/asyncnN`.
#[pin_data]
struct AsyncnDevice {
    index: u32,
    buffer_size: usize,
    #[pin]
    state: InterruptibleMutex<State>,
    /// Generation of the readable message; 0 when there is none.
    current: AtomicU64,
    #[pin]
    readable: WaitQueue,
    subscribers: FasyncQueue,
    stats: Stats,
}

/// One open file: the generation of the message it read last (0: none).
struct OpenFile {
    seen: AtomicU64,
}

const READABLE: u32 = EPOLLIN | EPOLLRDNORM;
const WRITABLE: u32 = EPOLLOUT | EPOLLWRNORM;

impl AsyncnDevice {
    fn new(index: u32, buffer_size: usize) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            index,
            buffer_size,
            state <- InterruptibleMutex::new(
                State {
                    message: None,
                    spare: None,
                    generation: 0,
                    opens: 0,
                },
                c"asyncn_device_state",
                static_lock_class!(),
            ),
            current: AtomicU64::new(0),
            readable <- WaitQueue::new(c"asyncn_readable", static_lock_class!()),
            subscribers: FasyncQueue::new(),
            stats: Stats::default(),
        })
    }

    /// The generation of the message `open` has not read yet, if any: when
    /// there is one, `read` would not block.
    fn unread_generation(&self, open: &OpenFile) -> Option<u64> {
        let current = self.current.load(Ordering::Acquire);
        (current != 0 && current != open.seen.load(Ordering::Relaxed)).then_some(current)
    }

    /// Claims the unread message for `open`: marks it read and returns it
    /// with its generation and the generation `open` had read before.
    fn claim_unread(&self, open: &OpenFile) -> Result<Option<(SharedMessage, u64, u64)>> {
        let state = self.state.lock_interruptible()?;
        let Some(generation) = self.unread_generation(open) else {
            return Ok(None);
        };
        // `current` is nonzero only while a message is published (the
        // invariant of `State`): a `None` here is a driver bug.
        let Some(message) = state.message.clone() else {
            warn_on!(true);
            return Err(EIO);
        };
        let previous = open.seen.swap(generation, Ordering::Relaxed);
        Ok(Some((message, generation, previous)))
    }

    /// Wakes readers and pollers, then signals the subscribers.
    fn notify(&self) {
        self.readable.wake_up_poll(READABLE);
        self.subscribers.notify(bindings::SIGIO, bindings::POLL_IN);
    }
}

impl FileOperations for AsyncnDevice {
    type Open = OpenFile;

    fn open(&self, file: &File) -> Result<OpenFile> {
        let mut state = self.state.lock_interruptible()?;
        // The first open allocates the spare buffer, outside the lock; it
        // is kept if this is still the first open afterwards.
        let mut fresh = None;
        if state.opens == 0 {
            drop(state);
            fresh = Some(Message::new_unique(self.buffer_size)?);
            state = self.state.lock_interruptible()?;
            if state.opens == 0 {
                state.spare = fresh.take();
            }
        }
        state.opens += 1;
        if file.is_reader() {
            self.stats.readers.fetch_add(1, Ordering::Relaxed);
        }
        if file.is_writer() {
            self.stats.writers.fetch_add(1, Ordering::Relaxed);
        }
        trace!(
            "open",
            "asyncn{}: open (read {}, write {}), {} open",
            self.index,
            u32::from(file.is_reader()),
            u32::from(file.is_writer()),
            state.opens
        );
        drop(state);
        // Another first open got there first: freed outside the lock.
        drop(fresh);
        // A new file has read nothing: a message already there is unread.
        Ok(OpenFile {
            seen: AtomicU64::new(0),
        })
    }

    fn release(&self, _open: OpenFile, file: &File) {
        // Unsubscribe first: no signal may target a file being closed.
        if self.subscribers.remove(file) {
            self.stats.subscribers.fetch_sub(1, Ordering::Relaxed);
        }
        if file.is_reader() {
            self.stats.readers.fetch_sub(1, Ordering::Relaxed);
        }
        if file.is_writer() {
            self.stats.writers.fetch_sub(1, Ordering::Relaxed);
        }
        let (message, spare) = {
            let mut state = self.state.lock();
            // Every release follows an open that counted itself.
            if warn_on!(state.opens == 0) {
                return;
            }
            state.opens -= 1;
            trace!(
                "release",
                "asyncn{}: release, {} open",
                self.index,
                state.opens
            );
            if state.opens != 0 {
                return;
            }
            // INVARIANT: no message, and `current` 0.
            self.current.store(0, Ordering::Release);
            (state.message.take(), state.spare.take())
        };
        // Freed after unlocking: the last open file is gone, so no read
        // holds the message any more.
        drop((message, spare));
    }

    // Inlined into the layer's `read_iter` callback: one call and return
    // fewer per system call (docs/design.md).
    #[inline]
    fn read(&self, open: &OpenFile, file: &File, out: &mut IovDest<'_, '_>) -> Result<usize> {
        // Nothing asked for, nothing consumed: not even a message to block for.
        if out.len() == 0 {
            return Ok(0);
        }
        loop {
            // The mutex only when there is something to claim: a read with
            // nothing new (a poll loop's `EAGAIN`) does not take it.
            let claimed = match self.unread_generation(open) {
                Some(_) => self.claim_unread(open)?,
                None => None,
            };
            if let Some((message, generation, previous)) = claimed {
                // Only the current message's bytes: never what an older,
                // longer message left behind it. No lock is held: a fault
                // here stalls this reader only.
                let bytes = message.bytes();
                let n = bytes.len().min(out.len());
                if let Err(e) = out.write_all(&bytes[..n]) {
                    // Give the message back (unless a later read of this file
                    // took a newer one), and tell any sleeper it is readable.
                    if open
                        .seen
                        .compare_exchange(
                            generation,
                            previous,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                    {
                        self.readable.wake_up_poll(READABLE);
                    }
                    return Err(e);
                }
                trace!(
                    "read",
                    "asyncn{}: read {} bytes of generation {:#x}",
                    self.index,
                    n,
                    generation
                );
                return Ok(n);
            }
            if file.is_nonblocking() || out.nowait() {
                return Err(EAGAIN);
            }
            self.readable
                .wait_interruptible(|| self.unread_generation(open).is_some())?;
        }
    }

    // Inlined like `read`.
    #[inline]
    fn write(
        &self,
        _open: &OpenFile,
        _file: &File,
        input: &mut IovSource<'_, '_>,
    ) -> Result<usize> {
        // Longer input is truncated to the buffer; the accepted length is
        // returned. A zero-length write changes nothing and notifies no one.
        let n = input.len().min(self.buffer_size);
        if n == 0 {
            return Ok(0);
        }
        let spare = self.state.lock_interruptible()?.spare.take();
        let mut message = match spare {
            Some(message) => message,
            None => Message::new_unique(self.buffer_size)?,
        };
        // No lock is held: a fault here stalls this writer only, and leaves
        // the published message as it was.
        if let Err(e) = input.read_exact(&mut message.buffer()[..n]) {
            let mut state = self.state.lock();
            let unused = state.spare.replace(message);
            drop(state);
            drop(unused);
            return Err(e);
        }
        message.set_len(n);
        let replaced = {
            // Uninterruptible: the copy is done, and the wait is bounded
            // (no holder of the mutex waits on user memory).
            let mut state = self.state.lock();
            state.generation += 1;
            let generation = state.generation;
            // INVARIANT: the new message and its generation, together.
            let replaced = state.message.replace(message.into());
            self.current.store(generation, Ordering::Release);
            // Only writers change these, under the mutex: plain stores, no
            // atomic read-modify-write on the hot path.
            let stats = &self.stats;
            stats.writes.store(generation, Ordering::Relaxed);
            let subscribers = u64::from(stats.subscribers.load(Ordering::Relaxed));
            let notifications = stats.notifications.load(Ordering::Relaxed);
            stats
                .notifications
                .store(notifications + subscribers, Ordering::Relaxed);
            trace!(
                "write",
                "asyncn{}: wrote {} bytes, generation {:#x}",
                self.index,
                n,
                generation
            );
            // The replaced message is the next spare unless a reader still
            // holds it (then the reader's reference is the last one, and
            // the next write allocates). `into_unique_or_drop` never
            // frees, and a message not kept is dropped after unlocking:
            // nothing is freed under the lock.
            match replaced {
                Some(old) if state.spare.is_none() => {
                    state.spare = message::into_spare(old);
                    None
                }
                other => other,
            }
        };
        drop(replaced);
        self.notify();
        Ok(n)
    }

    fn fasync(&self, _open: &OpenFile, fd: c_int, file: &File, on: bool) -> Result {
        trace!("fasync", "asyncn{}: O_ASYNC {}", self.index, u32::from(on));
        // SAFETY: `update` requires that a file added be removed before it
        // is released: `release` removes it (as does the VFS's
        // `fasync(-1, file, 0)` on the last close).
        if unsafe { self.subscribers.update(fd, file, on) }? {
            if on {
                self.stats.subscribers.fetch_add(1, Ordering::Relaxed);
            } else {
                self.stats.subscribers.fetch_sub(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn poll<'a>(&'a self, open: &OpenFile, file: &File, table: &PollTable<'a>) -> u32 {
        // Register first, then test: a write in between still wakes us.
        table.register(&self.readable);
        let mut mask = 0;
        if file.is_reader() && self.unread_generation(open).is_some() {
            mask |= READABLE;
        }
        if file.is_writer() {
            mask |= WRITABLE;
        }
        mask
    }
}

struct Asyncn {
    _devices: Pin<KBox<CharDevices<AsyncnDevice>>>,
}

/// Reads a parameter and checks its range.
fn param_in_range(name: &str, value: u32, max: u32) -> Result<u32> {
    if value == 0 || value > max {
        pr_err!("{name}={value} is out of range (1..={max}); not loading\n");
        return Err(EINVAL);
    }
    Ok(value)
}

impl kernel::Module for Asyncn {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let count = param_in_range("devices", DEVICES.get(), DEVICES_MAX)?;
        let buffer_size = param_in_range("buffer_size", BUFFER_SIZE.get(), BUFFER_SIZE_MAX)?;
        trace::check_layout()?;

        // Everything is allocated and set up before anything is visible;
        // on an error, what was done is undone as the locals are dropped.
        let mut data = KVec::with_capacity(count as usize, GFP_KERNEL)?;
        for index in 0..count {
            data.push(
                KBox::pin_init(AsyncnDevice::new(index, buffer_size as usize), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        // SAFETY: `new` requires that the devices be dropped only when no
        // file can be open: they are dropped with the module, at exit (open
        // files hold the module), or here if the initializer fails (then
        // nothing was added, so nothing can be open).
        let init = unsafe { CharDevices::new(NAME, data, &ASYNCN_FOPS, &ASYNCN_ATTRIBUTES)? };
        // Numbers, class, data and nodes, then the cdev: the last step
        // that can fail.
        let devices = KBox::pin_init(init, GFP_KERNEL)?;

        pr_info!(
            "{count} device(s), {buffer_size}-byte buffers, major {}\n",
            devices.major()
        );
        Ok(Self { _devices: devices })
    }
}
