//! Reads asked not to wait, on a file opened blocking: `preadv2` with
//! `RWF_NOWAIT`, and io_uring, whose first attempt is such a read.

use std::os::fd::AsFd;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::unistd::gettid;

use crate::device::{Access, Device};
use crate::harness::{wait, CaseResult, Context, Tap};
use crate::proc::{threads_in_module, wait_until_sleeping};
use crate::sys::rw::read_nowait;
use crate::sys::uring::{PollRing, READ_MAX};

pub fn nowait_read(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let size = ctx.params.buffer_size;
    let reader = Arc::new(Device::open(&ctx.device, Access::Read)?);
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let mut buf = vec![0u8; size];
    // A new file may find the current message unread: take it first.
    let _ = read_nowait(reader.as_fd(), &mut buf);

    let start = Instant::now();
    let empty = read_nowait(reader.as_fd(), &mut buf);
    let took = start.elapsed();
    tap.check(
        empty == Err(Errno::EAGAIN) && took < Duration::from_secs(1),
        format!(
            "preadv2(RWF_NOWAIT) on a blocking file with nothing unread: EAGAIN at once \
             ({empty:?} in {} ms)",
            took.as_millis()
        ),
    );
    writer.send(b"nowait")?;
    let fresh = read_nowait(reader.as_fd(), &mut buf).map(|n| buf[..n].to_vec());
    let expected = &b"nowait"[..6.min(size)];
    tap.check(
        fresh.as_deref() == Ok(expected),
        format!("after a write it returns the message ({fresh:?})"),
    );
    let again = read_nowait(reader.as_fd(), &mut buf);
    tap.check(
        again == Err(Errno::EAGAIN),
        format!("and then EAGAIN again ({again:?})"),
    );

    // The ring is made by the thread that uses it: io_uring ties a ring to
    // the task that made it, and interrupts that task (like a signal) when
    // it tears the ring down.
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let file = reader.clone();
    let thread = std::thread::spawn(move || {
        let mut ring = match PollRing::new() {
            Ok(ring) => ring,
            Err(e) => {
                let _ = tid_tx.send(Err(e));
                return;
            }
        };
        let _ = tid_tx.send(Ok(gettid()));
        let _ = done_tx.send(ring.read_once(file.as_fd(), size.min(READ_MAX)));
    });
    let tid = match tid_rx.recv()? {
        Ok(tid) => tid,
        Err(e) => {
            let _ = thread.join();
            if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
                tap.skip(
                    "an io_uring read on a blocking file",
                    format!("no io_uring ({e})"),
                );
                return Ok(());
            }
            return Err(e.into());
        }
    };
    let asleep = wait_until_sleeping(tid, wait());
    // io_uring's worker threads, if any, have started by now too.
    std::thread::sleep(Duration::from_millis(200));
    let early = done_rx.try_recv().ok();
    tap.check(
        asleep && early.is_none(),
        format!(
            "an io_uring read with nothing unread waits (asleep {asleep}, completed {early:?})"
        ),
    );
    match threads_in_module("asyncn") {
        Ok(inside) => tap.check(
            inside.is_empty(),
            format!(
                "while it waits, no thread sleeps inside the driver (io_uring polls instead of \
                 blocking a worker in read): {inside:?}"
            ),
        ),
        Err(e) => {
            tap.skip("no thread sleeps inside the driver", e);
            true
        }
    };
    writer.send(b"uring")?;
    let done = done_rx.recv_timeout(wait());
    let expected = &b"uring"[..5.min(size)];
    tap.check(
        matches!(&done, Ok(Ok(m)) if m.as_slice() == expected),
        format!("it completes with the next write's message ({done:?})"),
    );
    // Its file closed before the next case: the last close frees the
    // message, which a later case's new files must not find.
    if done.is_ok() {
        let _ = thread.join();
    }
    Ok(())
}
