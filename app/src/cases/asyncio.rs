//! The device under POSIX asynchronous I/O, with completion signals.

use std::os::fd::AsFd;
use std::pin::Pin;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::aio::{Aio, AioRead, AioWrite};
use nix::sys::signal::{SigevNotify, Signal};

use crate::device::{Access, Device};
use crate::harness::Tap;
use crate::harness::{wait, CaseResult, Context};
use crate::sys::rtsig::{block, take, unblock};

/// Completion by signal. Each operation gets its own standard signal (two
/// instances of one standard signal could merge into one).
fn completion(signal: Signal) -> SigevNotify<'static> {
    SigevNotify::SigevSignal {
        signal,
        si_value: 0,
    }
}

/// Waits up to `wait()` for `aio` to leave `EINPROGRESS`; whether it did.
fn finished<T: Aio>(aio: &mut Pin<Box<T>>) -> bool {
    let deadline = Instant::now() + wait();
    while aio.as_mut().error() == Err(Errno::EINPROGRESS) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// The result of `aio`. The completion signal can arrive just before the
/// status is final, so it waits for that first. One still in progress then
/// is cancelled; if it cannot be (the C library's I/O thread may be blocked
/// in the read), its control block and buffer are left allocated for good,
/// because that thread still owns them, and the result is `ETIMEDOUT`.
fn result<T: Aio>(mut aio: Pin<Box<T>>) -> Result<T::Output, Errno> {
    if !finished(&mut aio) {
        let _ = aio.as_mut().cancel();
        if !finished(&mut aio) {
            std::mem::forget(aio);
            return Err(Errno::ETIMEDOUT);
        }
    }
    aio.as_mut().aio_return()
}

pub fn posix_aio(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let (read_done, write_done) = (Signal::SIGUSR1, Signal::SIGUSR2);
    let _blocked = Blocked::new(&[read_done, write_done])?;
    let reader = Device::open(&ctx.device, Access::Read)?;
    let writer = Device::open(&ctx.device, Access::Write)?;

    // A read queued before any message: it completes when the write lands.
    // Its buffer lives for good: a read that never completes keeps it.
    let buf: &'static mut [u8] = Box::leak(vec![0u8; ctx.params.buffer_size].into_boxed_slice());
    let mut read = Box::pin(AioRead::new(
        reader.as_fd(),
        0,
        &mut *buf,
        0,
        completion(read_done),
    ));
    read.as_mut().submit()?;
    let early = take(read_done as i32, Duration::from_millis(200))?;
    tap.check(
        early.is_none(),
        "aio_read with no message: still in progress",
    );

    let message = b"completed asynchronously";
    let mut write = Box::pin(AioWrite::new(
        writer.as_fd(),
        0,
        message,
        0,
        completion(write_done),
    ));
    write.as_mut().submit()?;
    let wrote = take(write_done as i32, wait())?.is_some();
    let written = result(write);
    tap.check(wrote, "aio_write signalled its completion (SIGUSR2)");
    tap.check(
        written == Ok(message.len()),
        format!("aio_write returned {written:?}"),
    );

    let got_signal = take(read_done as i32, wait())?.is_some();
    let got = result(read);
    tap.check(got_signal, "aio_read signalled its completion (SIGUSR1)");
    // The buffer is looked at only once the read is over.
    tap.check(
        got == Ok(message.len()) && buf[..message.len()] == message[..],
        format!("aio_read completed with the message ({got:?})"),
    );
    Ok(())
}

/// Signals blocked for the scope of a case; pending ones are discarded
/// before unblocking, so none runs its default action afterwards.
struct Blocked(Vec<Signal>);

impl Blocked {
    fn new(signals: &[Signal]) -> std::io::Result<Self> {
        for &signal in signals {
            block(signal as i32)?;
        }
        Ok(Self(signals.to_vec()))
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        for &signal in &self.0 {
            while let Ok(Some(_)) = take(signal as i32, Duration::ZERO) {}
            let _ = unblock(signal as i32);
        }
    }
}
