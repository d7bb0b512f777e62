// SPDX-License-Identifier: GPL-2.0

//! asyncn: signal-driven asynchronous notification (`fasync`, `SIGIO`).
//!
//! Each device `/dev/asyncnN` holds one message in a fixed-size buffer.
//! A write replaces the message and notifies every subscribed open file
//! (`fcntl(F_SETOWN)` + `O_ASYNC`) with `SIGIO`, band `POLL_IN`; a read
//! returns the current message.
//!
//! Module parameters: `devices` (1..=256, default 1) and `buffer_size`
//! (1..=65536 bytes, default 256). Out-of-range values fail the load with
//! `EINVAL` and a kernel log line saying why.
//!
//! # Locking
//!
//! - `AsyncnDevice::state` (a mutex) protects the buffer, the message
//!   length and the open/reader/writer counts. It is held for the copy
//!   between user and buffer only; `read`/`write`/`open` wait for it
//!   interruptibly (a signal gives `-ERESTARTSYS`), `release` cannot fail
//!   and waits uninterruptibly.
//! - `AsyncnDevice::subscribers` (the fasync list) has its own locking in
//!   the VFS: `fasync_helper` serialises changes, `kill_fasync` walks it
//!   under RCU. Notification happens after the mutex is released, so a
//!   subscriber woken by the signal never waits for the writer's lock.
//! - Nothing else is shared between tasks. Module data is created before
//!   the first device node exists and destroyed after the last one is gone.

use kernel::{
    bindings, c_str,
    ffi::c_int,
    prelude::*,
    static_lock_class,
    uaccess::{UserSliceReader, UserSliceWriter},
};

mod chrdev;
mod compat;
mod params;
mod sync;

use chrdev::{CharDev, Class, FasyncQueue, File, FileOperations, Region};
use sync::InterruptibleMutex;

module! {
    type: Asyncn,
    name: "asyncn",
    author: "asyncn developers",
    description: "Signal-driven asynchronous notification (fasync/SIGIO) character device",
    license: "GPL",
}

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
const NAME: &CStr = c_str!("asyncn");

chrdev::declare_file_operations!(ASYNCN_FOPS, AsyncnDevice);

/// What the device mutex protects.
struct State {
    /// The message buffer, `buffer_size` bytes; allocated zeroed on the
    /// first open, freed when the last open file is released.
    buffer: Option<KVec<u8>>,
    /// Length of the current message in `buffer`.
    len: usize,
    /// Open files, and those of them opened for reading / for writing.
    opens: u32,
    readers: u32,
    writers: u32,
}

/// One `/dev/asyncnN`.
#[pin_data]
struct AsyncnDevice {
    buffer_size: usize,
    #[pin]
    state: InterruptibleMutex<State>,
    subscribers: FasyncQueue,
}

impl AsyncnDevice {
    fn new(buffer_size: usize) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            buffer_size,
            state <- InterruptibleMutex::new(
                State {
                    buffer: None,
                    len: 0,
                    opens: 0,
                    readers: 0,
                    writers: 0,
                },
                c_str!("asyncn_device_state"),
                static_lock_class!(),
            ),
            subscribers: FasyncQueue::new(),
        })
    }
}

impl FileOperations for AsyncnDevice {
    type Open = ();

    fn open(&self, file: &File) -> Result<()> {
        let mut state = self.state.lock_interruptible()?;
        if state.buffer.is_none() {
            state.buffer = Some(KVec::from_elem(0u8, self.buffer_size, GFP_KERNEL)?);
            state.len = 0;
        }
        state.opens += 1;
        state.readers += u32::from(file.is_reader());
        state.writers += u32::from(file.is_writer());
        Ok(())
    }

    fn release(&self, _open: (), file: &File) {
        // Unsubscribe first: no signal may target a file being closed.
        self.subscribers.remove(file);
        let mut state = self.state.lock();
        state.opens -= 1;
        state.readers -= u32::from(file.is_reader());
        state.writers -= u32::from(file.is_writer());
        if state.opens == 0 {
            state.buffer = None;
            state.len = 0;
        }
    }

    fn read(&self, _open: &(), _file: &File, out: &mut UserSliceWriter) -> Result<usize> {
        let state = self.state.lock_interruptible()?;
        let buffer = state.buffer.as_deref().ok_or(EBADF)?;
        // Only the current message's bytes: never what an older, longer
        // message left behind it.
        let n = state.len.min(out.len());
        out.write_slice(&buffer[..n])?;
        Ok(n)
    }

    fn write(&self, _open: &(), _file: &File, input: &mut UserSliceReader) -> Result<usize> {
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
                return Err(e);
            }
            state.len = n;
        }
        self.subscribers.notify(bindings::SIGIO, bindings::POLL_IN);
        Ok(n)
    }

    fn fasync(&self, _open: &(), fd: c_int, file: &File, on: bool) -> Result {
        self.subscribers.update(fd, file, on)
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
                    AsyncnDevice::new(buffer_size as usize),
                ),
                GFP_KERNEL,
            )?;
            device.as_mut().register(&region, &class, NAME, index)?;
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
