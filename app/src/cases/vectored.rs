//! One system call, one message: vectored writes and reads, zero-length
//! reads, and writes that fault.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::mpsc;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::getpid;

use crate::device::read_stats;
use crate::device::{sysfs_dir, Access, Device};
use crate::harness::Tap;
use crate::harness::{wait, CaseResult, Context};
use crate::sys::raw::{self, Unusable};
use crate::sys::rtsig::{block, rt_signal, set_signal, take, take_pending, unblock};

/// The first `size` bytes of the concatenation of `parts` (what the device
/// keeps of a vectored write).
fn joined(parts: &[&[u8]], size: usize) -> Vec<u8> {
    let mut all = parts.concat();
    all.truncate(size);
    all
}

/// writev of three iovecs: one message, one `writes`, one signal per
/// subscriber.
pub fn writev(ctx: &Context, tap: &mut Tap) -> CaseResult {
    with_blocked(rt_signal(4), |signal| writev_with(ctx, tap, signal))
}

fn writev_with(ctx: &Context, tap: &mut Tap, signal: i32) -> CaseResult {
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let subscribers = [
        Device::open(&ctx.device, Access::Read)?,
        Device::open(&ctx.device, Access::Read)?,
    ];
    for reader in &subscribers {
        set_signal(reader.as_fd(), signal)?;
        reader.subscribe(getpid())?;
    }
    while take_pending(&[signal]).is_some() {}
    let dir = sysfs_dir(&ctx.device);
    let before = read_stats(&dir)?;

    let parts: [&[u8]; 3] = [b"one message ", b"from three ", b"iovecs"];
    let iovecs = parts.map(IoSlice::new);
    let n = writer.file().write_vectored(&iovecs)?;
    let expected = joined(&parts, ctx.params.buffer_size);
    tap.check(
        n == expected.len(),
        format!(
            "writev of 3 iovecs accepted {n} bytes (all {})",
            expected.len()
        ),
    );
    let after = read_stats(&dir)?;
    let writes = after["writes"] - before["writes"];
    tap.check(
        writes == 1,
        format!("it counted as one write in sysfs ({writes})"),
    );

    let mut received = Vec::new();
    while let Some(info) = take(signal, Duration::from_millis(300))? {
        received.push(info.fd);
    }
    received.sort_unstable();
    let mut fds: Vec<i32> = subscribers.iter().map(|d| d.as_raw_fd()).collect();
    fds.sort_unstable();
    tap.check(
        received == fds,
        format!("one signal per subscriber: si_fd {received:?}, subscribers {fds:?}"),
    );
    for reader in &subscribers {
        let back = reader.receive(ctx.params.buffer_size)?;
        tap.check(
            back == expected,
            format!(
                "a subscriber reads the whole message ({:?})",
                String::from_utf8_lossy(&back)
            ),
        );
    }
    Ok(())
}

/// readv spreads one message over its iovecs.
pub fn readv(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let reader = Device::open(&ctx.device, Access::Read)?;
    let message: Vec<u8> = (0..40).map(|i| b'A' + (i % 26) as u8).collect();
    let message = &message[..message.len().min(ctx.params.buffer_size)];
    writer.send(message)?;
    let (mut a, mut b, mut c) = ([0u8; 5], [0u8; 7], vec![0u8; 100]);
    let n = reader.file_ref().read_vectored(&mut [
        IoSliceMut::new(&mut a),
        IoSliceMut::new(&mut b),
        IoSliceMut::new(&mut c),
    ])?;
    tap.check(
        n == message.len(),
        format!(
            "readv into 5+7+100 bytes returned {n} (the {}-byte message)",
            message.len()
        ),
    );
    let mut spread = [&a[..], &b[..], &c[..]].concat();
    spread.truncate(n);
    tap.check(spread == message, "the message fills the iovecs in order");
    Ok(())
}

/// A blocking readv returns exactly one message, even when its first
/// iovec is shorter than the message and a second write follows soon.
pub fn blocking_readv(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let reader = Device::open(&ctx.device, Access::Read)?;
    // Up to date first, so the readv below blocks.
    writer.send(b"already there")?;
    reader.receive(ctx.params.buffer_size)?;

    let size = ctx.params.buffer_size;
    let first: Vec<u8> = b"the first message, longer than eight bytes"[..]
        .iter()
        .copied()
        .take(size)
        .collect();
    let second = b"the second message";
    let (first_out, second_out) = (first.clone(), second.to_vec());
    let later = std::thread::spawn(move || -> std::io::Result<()> {
        std::thread::sleep(Duration::from_millis(200));
        writer.send(&first_out)?;
        std::thread::sleep(Duration::from_millis(200));
        writer.send(&second_out)?;
        Ok(())
    });
    let (mut head, mut tail) = ([0u8; 8], vec![0u8; 256]);
    let n = reader
        .file_ref()
        .read_vectored(&mut [IoSliceMut::new(&mut head), IoSliceMut::new(&mut tail)])?;
    let mut got = [&head[..], &tail[..]].concat();
    got.truncate(n);
    tap.check(
        got == first,
        format!(
            "a blocked readv into 8+256 bytes returned the next message only ({n} bytes: {:?})",
            String::from_utf8_lossy(&got)
        ),
    );
    later.join().map_err(|_| "writer thread panicked")??;
    let next = reader.receive(size)?;
    tap.check(
        next == second[..second.len().min(size)],
        "the following read returns the second message",
    );
    Ok(())
}

/// A zero-length read returns 0 and changes nothing: it neither consumes
/// an unread message nor blocks when there is none.
pub fn zero_length_read(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let reader = Device::open(&ctx.device, Access::Read)?;
    writer.send(b"unread")?;
    let n = reader.file_ref().read(&mut [])?;
    tap.check(n == 0, format!("a zero-length read returns 0 ({n})"));
    let back = reader.receive(ctx.params.buffer_size)?;
    tap.check(back == b"unread", "the message is still unread after it");

    // Nothing unread now: a blocking zero-length read must not wait.
    let file = reader.into_file();
    let (done, finished) = mpsc::channel();
    let zero = std::thread::spawn(move || {
        let n = (&file).read(&mut []);
        let _ = done.send(n.map_err(|e| e.to_string()));
        file
    });
    let result = finished.recv_timeout(wait());
    let returned = result.is_ok();
    if !returned {
        // Release the blocked read, so the case can end.
        writer.send(b"release")?;
    }
    let _ = zero.join();
    tap.check(
        matches!(result, Ok(Ok(0))),
        format!("with nothing unread, a blocking zero-length read returns 0 at once ({result:?})"),
    );
    Ok(())
}

/// A write that faults leaves the previous message in place: readable,
/// unchanged, no signal, not counted.
pub fn faulting_write(ctx: &Context, tap: &mut Tap) -> CaseResult {
    with_blocked(rt_signal(5), |signal| faulting_write_with(ctx, tap, signal))
}

/// Runs `body` with `signal` blocked (queued, taken with `take`).
fn with_blocked(signal: i32, body: impl FnOnce(i32) -> CaseResult) -> CaseResult {
    block(signal)?;
    let result = body(signal);
    unblock(signal)?;
    result
}

fn faulting_write_with(ctx: &Context, tap: &mut Tap, signal: i32) -> CaseResult {
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let reader = Device::open_with(&ctx.device, Access::Read, OFlag::O_NONBLOCK)?;
    set_signal(reader.as_fd(), signal)?;
    reader.subscribe(getpid())?;
    let size = ctx.params.buffer_size;
    let previous = &b"the previous message"[..20.min(size)];
    writer.send(previous)?;
    while take_pending(&[signal]).is_some() {}
    let dir = sysfs_dir(&ctx.device);
    let before = read_stats(&dir)?;

    let guard = crate::sys::memory::inaccessible_page()?;
    let good = [b'x'; 16];
    let w = raw::writev_then(&writer, &good, Unusable::Inaccessible(&guard), 16);
    tap.check(
        w == Err(Errno::EFAULT),
        format!("writev whose second iovec is a PROT_NONE page fails with EFAULT ({w:?})"),
    );
    let w = raw::write_from(&writer, Unusable::Null, 16);
    tap.check(
        w == Err(Errno::EFAULT),
        format!("write from NULL fails with EFAULT ({w:?})"),
    );

    let after = read_stats(&dir)?;
    let writes = after["writes"] - before["writes"];
    tap.check(
        writes == 0,
        format!("neither counted as a write ({writes})"),
    );
    let signalled = take(signal, Duration::from_millis(200))?;
    tap.check(
        signalled.is_none(),
        format!("nor signalled ({signalled:?})"),
    );
    let back = reader.receive(size)?;
    tap.check(
        back == previous,
        format!(
            "the previous message is still readable, unchanged ({:?})",
            String::from_utf8_lossy(&back)
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::joined;

    #[test]
    fn joined_truncates_to_the_buffer() {
        assert_eq!(joined(&[b"ab", b"cd"], 3), b"abc");
        assert_eq!(joined(&[b"ab", b"cd"], 16), b"abcd");
    }
}
