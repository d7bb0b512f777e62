//! What a read does to the message: a read shorter than the message still
//! consumes it for its file (and only for its file), and a read whose copy
//! faults gives it back and wakes whoever waited for it meanwhile.

use std::os::fd::AsFd;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::gettid;

use crate::device::{Access, Device};
use crate::harness::{wait, CaseResult, Context, Tap};
use crate::proc::wait_until_sleeping;
use crate::sys::uffd::StallPage;

fn errno<T>(result: std::io::Result<T>) -> Result<T, Errno> {
    result.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
}

/// Reads until nothing is unread (`O_NONBLOCK` files).
fn drain(file: &Device, capacity: usize) {
    while file.receive(capacity).is_ok() {}
}

pub fn partial_read(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let size = ctx.params.buffer_size;
    if size < 2 {
        tap.skip(
            "a read shorter than the message consumes it",
            "buffer_size 1: no message is longer than a 1-byte read",
        );
        return Ok(());
    }
    let reader = Device::open_with(&ctx.device, Access::Read, OFlag::O_NONBLOCK)?;
    let other = Device::open_with(&ctx.device, Access::Read, OFlag::O_NONBLOCK)?;
    drain(&reader, size);
    drain(&other, size);
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let text = b"a message longer than the read";
    let message = &text[..text.len().min(size)];
    let part = message.len() / 2;
    writer.send(message)?;

    let first = errno(reader.receive(part));
    tap.check(
        first.as_deref() == Ok(&message[..part]),
        format!(
            "a {part}-byte read of a {}-byte message returns its first {part} bytes ({first:?})",
            message.len()
        ),
    );
    let next = errno(reader.receive(size));
    tap.check(
        next == Err(Errno::EAGAIN),
        format!("the file's next read finds nothing unread: EAGAIN ({next:?})"),
    );
    let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
    let ready = poll(&mut fds, PollTimeout::ZERO)?;
    tap.check(
        ready == 0,
        format!("and poll reports nothing to read ({:?})", fds[0].revents()),
    );
    let whole = errno(other.receive(size));
    tap.check(
        whole.as_deref() == Ok(message),
        format!("another file still reads the whole message ({whole:?})"),
    );

    // A blocking file: after a partial read, the next read waits for the
    // next write.
    let blocking = Arc::new(Device::open(&ctx.device, Access::Read)?);
    let first = errno(blocking.receive(1));
    tap.check(
        first.as_deref() == Ok(&message[..1]),
        format!("a file opened later reads 1 byte of the current message ({first:?})"),
    );
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let file = blocking.clone();
    let thread = std::thread::spawn(move || {
        let _ = tid_tx.send(gettid());
        let start = Instant::now();
        let _ = done_tx.send((file.receive(size), start.elapsed()));
    });
    let tid = tid_rx.recv()?;
    let asleep = wait_until_sleeping(tid, wait());
    let early = done_rx.try_recv().ok();
    tap.check(
        asleep && early.is_none(),
        format!("its next read blocks (asleep {asleep}, returned {early:?})"),
    );
    writer.send(b"next")?;
    let next = done_rx.recv_timeout(wait());
    tap.check(
        matches!(&next, Ok((Ok(m), _)) if m.as_slice() == &b"next"[..4.min(size)]),
        format!("until the next write, whose message it returns ({next:?})"),
    );
    // Every file closed before the next case (see `nowait-read`).
    if next.is_ok() {
        let _ = thread.join();
    }
    Ok(())
}

/// How the second task waits for the message the faulting read took.
#[derive(Clone, Copy, Debug)]
enum Waiter {
    Read,
    Poll,
}

pub fn read_fault_wakes(ctx: &Context, tap: &mut Tap) -> CaseResult {
    for waiter in [Waiter::Read, Waiter::Poll] {
        let stall = match StallPage::new() {
            Ok(stall) => Arc::new(stall),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                tap.skip(
                    "a read whose copy faults wakes a waiter of its file",
                    format!("no userfaultfd ({e})"),
                );
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        give_back_wakes(ctx, tap, waiter, stall)?;
    }
    Ok(())
}

/// One file: a read takes the message and stalls in its copy; a second
/// read (or poll) of the file finds nothing unread and waits; the copy
/// then faults. The message is unread again, and the waiter must wake.
fn give_back_wakes(
    ctx: &Context,
    tap: &mut Tap,
    waiter: Waiter,
    stall: Arc<StallPage>,
) -> CaseResult {
    let size = ctx.params.buffer_size;
    let file = Arc::new(Device::open(&ctx.device, Access::Read)?);
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let text = b"given back";
    let message = &text[..text.len().min(size)];
    writer.send(message)?;

    let (taker_tx, taker_rx) = mpsc::channel();
    let (f, s) = (file.clone(), stall.clone());
    let taker = std::thread::spawn(move || {
        let _ = taker_tx.send(s.read_into(f.as_fd(), size));
    });
    if !stall.wait_for_fault(wait())? {
        stall.fill()?;
        tap.check(false, format!("{waiter:?}: a read stalls in its copy-out"));
        let _ = taker.join();
        return Ok(());
    }

    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let f = file.clone();
    let waiting = std::thread::spawn(move || {
        let _ = tid_tx.send(gettid());
        let outcome = match waiter {
            Waiter::Read => f.receive(size).map(Some),
            Waiter::Poll => {
                let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLIN)];
                let ms = wait().as_millis().min(60_000) as i32;
                let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
                poll(&mut fds, timeout)
                    .map(|n| (n == 1).then(|| b"POLLIN".to_vec()))
                    .map_err(std::io::Error::from)
            }
        };
        let _ = done_tx.send(outcome);
    });
    let tid = tid_rx.recv()?;
    let asleep = wait_until_sleeping(tid, wait());
    let early = done_rx.try_recv().ok();
    tap.check(
        asleep && early.is_none(),
        format!(
            "{waiter:?}: while a read of the file holds the message, the file's next {} waits \
             (asleep {asleep}, returned {early:?})",
            match waiter {
                Waiter::Read => "read",
                Waiter::Poll => "poll",
            }
        ),
    );

    stall.fail()?;
    let taken = taker_rx.recv_timeout(wait());
    tap.check(
        matches!(&taken, Ok(Err(e)) if e.raw_os_error() == Some(libc::EFAULT)),
        format!("{waiter:?}: the stalled read's copy faults: EFAULT ({taken:?})"),
    );
    let start = Instant::now();
    let woken = done_rx.recv_timeout(wait());
    let expected = match waiter {
        Waiter::Read => message.to_vec(),
        Waiter::Poll => b"POLLIN".to_vec(),
    };
    let ok = matches!(&woken, Ok(Ok(Some(got))) if *got == expected);
    tap.check(
        ok,
        format!(
            "{waiter:?}: the waiter wakes to the message given back ({} ms: {woken:?})",
            start.elapsed().as_millis()
        ),
    );
    if woken.is_err() {
        // Still asleep: a write lets the thread end.
        writer.send(b"unblock")?;
        let _ = done_rx.recv_timeout(wait());
    }
    // Every file closed before the next case (see `nowait-read`): the
    // threads have returned or are about to.
    if taken.is_ok() {
        let _ = taker.join();
    }
    if woken.is_ok() {
        let _ = waiting.join();
    }
    Ok(())
}
