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
//! Module parameters: `devices` (1..=256, default 1) and `buffer_size`
//! (1..=65536 bytes, default 256). Out-of-range values fail the load with
//! `EINVAL` and a kernel log line saying why.
//!
//! Statistics, read-only, in `/sys/class/asyncn/asyncnN/`: `buffer_size`,
//! `readers`, `writers`, `subscribers` (open files now), `writes`,
//! `notifications` (signals requested since load: per write, the number of
//! subscribers at that moment).
//!
//! # Locking
//!
//! - `AsyncnDevice::state` (a mutex) protects the buffer, the message
//!   length, the generation counter and the open count. It is held for the
//!   copy between user and buffer only; `read`/`write`/`open` wait for it
//!   interruptibly (a signal gives `-ERESTARTSYS`), `release` cannot fail
//!   and waits uninterruptibly.
//! - `AsyncnDevice::current` (the generation of the readable message, 0 for
//!   none) is written under the mutex and read without it by the wait
//!   condition and `poll`; `OpenFile::seen` is written under the mutex by
//!   the file's own reads. Statistics are atomics; `writes` and
//!   `notifications` are written only under the mutex (plain stores).
//! - `AsyncnDevice::subscribers` (the fasync list) and `readable` (the wait
//!   queue) have their own locking. Wake-ups and signals are sent after the
//!   mutex is released, so a woken reader never waits for the writer's lock.
//!   The wake-up skips the queue's lock when no one waits: a full barrier
//!   after the update of `current`, paired with one after queueing in
//!   `prepare_to_wait_event` and in `poll`, means a waiter either sees the
//!   new message or is seen by the writer.
//! - Nothing else is shared between tasks. Module data is created before
//!   the first device node exists and destroyed after the last one is gone.

use core::ffi::CStr;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{
    bindings,
    ffi::c_int,
    prelude::*,
    static_lock_class,
    uaccess::{UserSliceReader, UserSliceWriter},
};

mod chrdev;
mod compat;
mod params;
mod sync;
mod trace;

use chrdev::{
    poll::{POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM},
    CharDev, Class, FasyncQueue, File, FileOperations, PollTable, ReadOnlyAttributes, Region,
};
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

chrdev::declare_file_operations!(ASYNCN_FOPS, AsyncnDevice);
chrdev::declare_attribute_groups!(ASYNCN_ATTRIBUTES, AsyncnDevice, [
    0 => "buffer_size",
    1 => "readers",
    2 => "writers",
    3 => "subscribers",
    4 => "writes",
    5 => "notifications",
]);

/// What the device mutex protects.
struct State {
    /// The message buffer, `buffer_size` bytes; allocated zeroed on the
    /// first open, freed when the last open file is released.
    buffer: Option<KVec<u8>>,
    /// Length of the current message in `buffer`.
    len: usize,
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
    /// Generation of the readable message; 0 when there is none (no write
    /// yet, or the last write faulted).
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

const READABLE: u32 = POLLIN | POLLRDNORM;
const WRITABLE: u32 = POLLOUT | POLLWRNORM;

impl AsyncnDevice {
    fn new(index: u32, buffer_size: usize) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            index,
            buffer_size,
            state <- InterruptibleMutex::new(
                State {
                    buffer: None,
                    len: 0,
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

    /// Wakes readers and pollers, then signals the subscribers.
    fn notify(&self) {
        self.readable.wake_all(READABLE);
        self.subscribers.notify(bindings::SIGIO, bindings::POLL_IN);
    }
}

impl FileOperations for AsyncnDevice {
    type Open = OpenFile;

    fn open(&self, file: &File) -> Result<OpenFile> {
        let mut state = self.state.lock_interruptible()?;
        if state.buffer.is_none() {
            state.buffer = Some(KVec::from_elem(0u8, self.buffer_size, GFP_KERNEL)?);
            state.len = 0;
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
            "asyncn%u: open (read %u, write %u), %u open\n",
            self.index,
            u32::from(file.is_reader()),
            u32::from(file.is_writer()),
            state.opens
        );
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
        let mut state = self.state.lock();
        state.opens -= 1;
        trace!(
            "release",
            "asyncn%u: release, %u open\n",
            self.index,
            state.opens
        );
        if state.opens == 0 {
            state.buffer = None;
            state.len = 0;
            self.current.store(0, Ordering::Release);
        }
    }

    fn read(&self, open: &OpenFile, file: &File, out: &mut UserSliceWriter) -> Result<usize> {
        loop {
            {
                let state = self.state.lock_interruptible()?;
                if let Some(current) = self.unread_generation(open) {
                    let buffer = state.buffer.as_deref().ok_or(EBADF)?;
                    // Only the current message's bytes: never what an
                    // older, longer message left behind it.
                    let n = state.len.min(out.len());
                    out.write_slice(&buffer[..n])?;
                    open.seen.store(current, Ordering::Relaxed);
                    trace!(
                        "read",
                        "asyncn%u: read %zu bytes of generation %llu\n",
                        self.index,
                        n,
                        current
                    );
                    return Ok(n);
                }
            }
            if file.is_nonblocking() {
                return Err(EAGAIN);
            }
            self.readable
                .wait_interruptible(|| self.unread_generation(open).is_some())?;
        }
    }

    fn write(&self, _open: &OpenFile, _file: &File, input: &mut UserSliceReader) -> Result<usize> {
        // Longer input is truncated to the buffer; the accepted length is
        // returned. A zero-length write changes nothing and notifies no one.
        let n = input.len().min(self.buffer_size);
        if n == 0 {
            return Ok(0);
        }
        {
            let mut state = self.state.lock_interruptible()?;
            let buffer = state.buffer.as_deref_mut().ok_or(EBADF)?;
            if let Err(e) = input.read_slice(&mut buffer[..n]) {
                // A fault may have left part of the new message in the
                // buffer: drop the message rather than show a torn one.
                buffer[..n].fill(0);
                state.len = 0;
                self.current.store(0, Ordering::Release);
                return Err(e);
            }
            state.len = n;
            state.generation += 1;
            self.current.store(state.generation, Ordering::Release);
            // Only writers change these, under the mutex: plain stores, no
            // atomic read-modify-write on the hot path.
            let stats = &self.stats;
            stats.writes.store(state.generation, Ordering::Relaxed);
            let subscribers = u64::from(stats.subscribers.load(Ordering::Relaxed));
            let notifications = stats.notifications.load(Ordering::Relaxed);
            stats
                .notifications
                .store(notifications + subscribers, Ordering::Relaxed);
            trace!(
                "write",
                "asyncn%u: wrote %zu bytes, generation %llu\n",
                self.index,
                n,
                state.generation
            );
        }
        self.notify();
        Ok(n)
    }

    fn fasync(&self, _open: &OpenFile, fd: c_int, file: &File, on: bool) -> Result {
        trace!(
            "fasync",
            "asyncn%u: O_ASYNC %u\n",
            self.index,
            u32::from(on)
        );
        if self.subscribers.update(fd, file, on)? {
            if on {
                self.stats.subscribers.fetch_add(1, Ordering::Relaxed);
            } else {
                self.stats.subscribers.fetch_sub(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn poll(&self, open: &OpenFile, file: &File, table: &PollTable) -> u32 {
        // Register first, then test: a write in between still wakes us.
        table.register(file, &self.readable);
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

impl ReadOnlyAttributes for AsyncnDevice {
    fn show(&self, index: usize) -> u64 {
        let stats = &self.stats;
        match index {
            0 => self.buffer_size as u64,
            1 => stats.readers.load(Ordering::Relaxed).into(),
            2 => stats.writers.load(Ordering::Relaxed).into(),
            3 => stats.subscribers.load(Ordering::Relaxed).into(),
            4 => stats.writes.load(Ordering::Relaxed),
            5 => stats.notifications.load(Ordering::Relaxed),
            _ => 0,
        }
    }
}

/// The registered devices; dropping it removes them last-created first.
struct DeviceSet(KVec<Option<Pin<KBox<CharDev<AsyncnDevice>>>>>);

impl Drop for DeviceSet {
    fn drop(&mut self) {
        for device in self.0.as_mut_slice().iter_mut().rev() {
            drop(device.take());
        }
    }
}

struct Asyncn {
    // Fields drop in declaration order: devices, then class, then region.
    _devices: DeviceSet,
    _class: Class,
    _region: Region,
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
    fn init(module: &'static ThisModule) -> Result<Self> {
        let count = param_in_range("devices", DEVICES.get(), DEVICES_MAX)?;
        let buffer_size = param_in_range("buffer_size", BUFFER_SIZE.get(), BUFFER_SIZE_MAX)?;

        // Each step owns what it registered: on an error, what was done so
        // far is undone in reverse order as the locals are dropped.
        let region = Region::alloc(count, NAME)?;
        let class = Class::create(NAME)?;
        let mut devices = DeviceSet(KVec::with_capacity(count as usize, GFP_KERNEL)?);
        for index in 0..count {
            let mut device = KBox::pin_init(
                CharDev::new(
                    module,
                    &ASYNCN_FOPS,
                    AsyncnDevice::new(index, buffer_size as usize),
                ),
                GFP_KERNEL,
            )?;
            device
                .as_mut()
                .register(&region, &class, &ASYNCN_ATTRIBUTES, NAME, index)?;
            devices.0.push(Some(device), GFP_KERNEL)?;
        }

        pr_info!(
            "{count} device(s), {buffer_size}-byte buffers, major {}\n",
            region.major()
        );
        Ok(Self {
            _devices: devices,
            _class: class,
            _region: region,
        })
    }
}
