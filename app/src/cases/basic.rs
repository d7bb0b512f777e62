//! The basic cases: the seed scenario, message contents, bad input, the
//! calls the device does not support, subscribing, module parameters.

use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::getpid;

use crate::device::{Access, Device};
use crate::harness::{wait, CaseResult, Context, Tap};
use crate::module;
use crate::proc::{read_timeout, reap, spawn, Channel};
use crate::sys::raw::{self, NoSuchIoctl, Unusable};
use crate::sys::rtsig;
use crate::sys::sigio::SigioCounter;

/// The messages of the seed scenario; the last one ends the reader.
pub const SCENARIO_MESSAGES: &[&str] = &[
    "hello from the writer",
    "asynchronous notification works",
    "each message comes with its own SIGIO",
    "stop reading",
];

/// The seed scenario: a reader process subscribes (F_SETOWN + O_ASYNC) and
/// reads only after a SIGIO; a writer process writes each message after the
/// reader acknowledged the previous one (and after `--pace`).
pub fn scenario(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let ready = Channel::new()?;
    let ack = Channel::new()?;
    let report = Channel::new()?;

    let device = ctx.device.clone();
    let capacity = ctx.params.buffer_size;
    let (ready_tx, ack_tx, report_tx) = (ready.write_end()?, ack.write_end()?, report.write_end()?);
    let reader =
        spawn(
            move || match scenario_reader(&device, capacity, ready_tx, ack_tx, report_tx) {
                Ok(()) => 0,
                Err(e) => {
                    println!("reader: error: {e}");
                    1
                }
            },
        )?;

    let device = ctx.device.clone();
    let pace = ctx.pace;
    let (ready_rx, ack_rx) = (ready.read_end()?, ack.read_end()?);
    let writer = spawn(
        move || match scenario_writer(&device, pace, ready_rx, ack_rx) {
            Ok(()) => 0,
            Err(e) => {
                println!("writer: error: {e}");
                1
            }
        },
    )?;
    drop((ready, ack));

    // The reader reports "<signals seen>\t<message>" per read, then the total.
    let mut lines = String::new();
    let mut report = report.receiver();
    let timeout = wait() + ctx.pace * SCENARIO_MESSAGES.len() as u32;
    let reader_status = reap(reader, timeout);
    let writer_status = reap(writer, wait());
    io::Read::read_to_string(&mut report, &mut lines)?;

    tap.check(
        reader_status == Some(0),
        format!("reader process exited cleanly ({reader_status:?})"),
    );
    tap.check(
        writer_status == Some(0),
        format!("writer process exited cleanly ({writer_status:?})"),
    );

    let mut received = Vec::new();
    let mut signals_at_read = Vec::new();
    let mut total_signals = None;
    for line in lines.lines() {
        match line.split_once('\t') {
            Some(("total", n)) => total_signals = n.parse::<u64>().ok(),
            Some((n, message)) => {
                signals_at_read.push(n.parse::<u64>().unwrap_or(0));
                received.push(message.to_owned());
            }
            None => {}
        }
    }
    tap.check(
        received == SCENARIO_MESSAGES,
        format!(
            "reader received all {} messages in order",
            SCENARIO_MESSAGES.len()
        ),
    );
    let expected: Vec<u64> = (1..=SCENARIO_MESSAGES.len() as u64).collect();
    tap.check(
        signals_at_read == expected,
        format!("each message was read after its own SIGIO (signal counts at reads: {signals_at_read:?})"),
    );
    tap.check(
        total_signals == Some(SCENARIO_MESSAGES.len() as u64),
        match total_signals {
            Some(total) => format!("exactly one SIGIO per message (total {total})"),
            None => "exactly one SIGIO per message (the reader reported no total)".to_owned(),
        },
    );
    Ok(())
}

fn scenario_reader(
    device: &std::path::Path,
    capacity: usize,
    mut ready: std::fs::File,
    mut ack: std::fs::File,
    mut report: std::fs::File,
) -> io::Result<()> {
    let sigio = SigioCounter::install()?;
    let dev = Device::open(device, Access::Read)?;
    dev.subscribe(getpid())?;
    println!(
        "reader: pid {} subscribed to {} (F_SETOWN + O_ASYNC)",
        getpid(),
        device.display()
    );
    ready.write_all(b"R")?;

    let mut seen = 0;
    loop {
        let count = sigio.wait_beyond(seen, wait());
        if count == seen {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no SIGIO within 5 s",
            ));
        }
        seen = count;
        let message = String::from_utf8_lossy(&dev.receive(capacity)?).into_owned();
        println!("reader: SIGIO #{seen} -> read \"{message}\"");
        writeln!(report, "{seen}\t{message}")?;
        ack.write_all(b"A")?;
        if message == "stop reading" {
            break;
        }
    }
    // A late, duplicate signal would show up here.
    let total = sigio.settle(Duration::from_millis(200));
    writeln!(report, "total\t{total}")?;
    println!("reader: stopped after {total} signals");
    Ok(())
}

fn scenario_writer(
    device: &std::path::Path,
    pace: Duration,
    mut ready: std::fs::File,
    mut ack: std::fs::File,
) -> io::Result<()> {
    let mut dev = Device::open(device, Access::Write)?;
    read_timeout(&mut ready, &mut [0], wait())?;
    for (i, message) in SCENARIO_MESSAGES.iter().enumerate() {
        if i > 0 && !pace.is_zero() {
            std::thread::sleep(pace);
        }
        let n = dev.send(message.as_bytes())?;
        println!("writer: wrote \"{message}\" ({n} bytes)");
        read_timeout(&mut ack, &mut [0], wait())?;
    }
    Ok(())
}

pub fn truncate(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let size = ctx.params.buffer_size;
    let mut dev = Device::open(&ctx.device, Access::ReadWrite)?;
    let long: Vec<u8> = (0..size + 44).map(|i| b'a' + (i % 26) as u8).collect();
    let accepted = dev.send(&long)?;
    tap.check(
        accepted == size,
        format!(
            "{}-byte write to a {size}-byte device returned {accepted}",
            long.len()
        ),
    );
    let back = dev.receive(size * 2)?;
    tap.check(
        back == long[..size],
        format!("read returns the first {size} bytes (got {})", back.len()),
    );
    Ok(())
}

pub fn short_after_long(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut dev = Device::open(&ctx.device, Access::ReadWrite)?;
    let long = vec![b'L'; ctx.params.buffer_size];
    dev.send(&long)?;
    dev.send(b"short")?;
    let back = dev.receive(ctx.params.buffer_size)?;
    tap.check(
        back == b"short",
        format!(
            "read after long+short returns exactly \"short\" (got {} bytes)",
            back.len()
        ),
    );
    Ok(())
}

pub fn zero_length(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let sigio = SigioCounter::install()?;
    let mut dev = Device::open(&ctx.device, Access::ReadWrite)?;
    dev.send(b"kept")?;
    dev.subscribe(getpid())?;
    let before = sigio.settle(Duration::from_millis(50));
    let n = dev.send(b"")?;
    tap.check(n == 0, format!("zero-length write returned {n}"));
    let after = sigio.settle(Duration::from_millis(100));
    tap.check(
        after == before,
        format!("no SIGIO for it ({} signals)", after - before),
    );
    let back = dev.receive(ctx.params.buffer_size)?;
    tap.check(back == b"kept", "the previous message is unchanged");
    Ok(())
}

fn errno_of(result: io::Result<impl Sized>) -> Option<Errno> {
    result
        .err()
        .and_then(|e| e.raw_os_error())
        .map(Errno::from_raw)
}

pub fn not_seekable(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut dev = Device::open(&ctx.device, Access::ReadWrite)?;
    let seek = errno_of(dev.file().seek(SeekFrom::Start(0)));
    tap.check(
        seek == Some(Errno::ESPIPE),
        format!("lseek fails with ESPIPE ({seek:?})"),
    );
    let mut buf = [0u8; 8];
    let pread = nix::sys::uio::pread(dev.file(), &mut buf, 0);
    tap.check(
        pread == Err(Errno::ESPIPE),
        format!("pread fails with ESPIPE ({pread:?})"),
    );
    let pwrite = nix::sys::uio::pwrite(dev.file(), &buf, 0);
    tap.check(
        pwrite == Err(Errno::ESPIPE),
        format!("pwrite fails with ESPIPE ({pwrite:?})"),
    );
    Ok(())
}

pub fn bad_pointer(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut dev = Device::open_with(&ctx.device, Access::ReadWrite, OFlag::O_NONBLOCK)?;
    let guard = crate::sys::memory::inaccessible_page()?;
    for (what, at) in [
        ("NULL", Unusable::Null),
        ("a PROT_NONE page", Unusable::Inaccessible(&guard)),
    ] {
        dev.send(b"before the fault")?;
        let w = raw::write_from(dev.file(), at, 16);
        tap.check(
            w == Err(Errno::EFAULT),
            format!("write from {what} fails with EFAULT ({w:?})"),
        );
        let left = dev.receive(ctx.params.buffer_size);
        tap.check(
            matches!(&left, Ok(m) if m == b"before the fault"),
            format!(
                "a faulting write leaves the previous message readable ({:?})",
                left.as_deref().map(String::from_utf8_lossy)
            ),
        );
        dev.send(b"a message to read")?;
        let r = raw::read_into(dev.file(), at, 16);
        tap.check(
            r == Err(Errno::EFAULT),
            format!("read into {what} fails with EFAULT ({r:?})"),
        );
        let unread = dev.receive(ctx.params.buffer_size);
        tap.check(
            matches!(&unread, Ok(m) if m == b"a message to read"),
            format!(
                "a faulting read leaves the message unread ({:?})",
                unread.as_deref().map(String::from_utf8_lossy)
            ),
        );
    }
    // The mutex was released on the error paths: normal I/O still works.
    dev.send(b"still usable")?;
    let back = dev.receive(ctx.params.buffer_size)?;
    tap.check(back == b"still usable", "the device works after the faults");
    Ok(())
}

pub fn unknown_ioctl(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let dev = Device::open(&ctx.device, Access::ReadWrite)?;
    for request in [NoSuchIoctl::Unassigned, NoSuchIoctl::TerminalSettings] {
        let r = raw::ioctl_null(&dev, request);
        tap.check(
            r == Err(Errno::ENOTTY),
            format!("ioctl {:#x} fails with ENOTTY ({r:?})", request.request()),
        );
    }
    Ok(())
}

pub fn other_calls(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut rw = Device::open_with(&ctx.device, Access::ReadWrite, OFlag::O_NONBLOCK)?;
    let mapped = crate::sys::memory::try_map_shared(rw.file(), 4096);
    tap.check(
        mapped == Err(Errno::ENODEV),
        format!("mmap fails with ENODEV ({mapped:?})"),
    );
    let (sync, truncate) = (
        nix::unistd::fsync(rw.file()),
        nix::unistd::ftruncate(rw.file(), 0),
    );
    tap.check(
        sync == Err(Errno::EINVAL) && truncate == Err(Errno::EINVAL),
        format!("fsync and ftruncate fail with EINVAL ({sync:?}, {truncate:?})"),
    );
    rw.send(b"a message")?;
    let mut buf = [0u8; 16];
    let huge = raw::read_size_max(rw.file(), &mut buf);
    tap.check(
        huge == Err(Errno::EFAULT),
        format!("a read of SIZE_MAX bytes fails with EFAULT ({huge:?})"),
    );
    let what = "a write from a kernel address fails with EFAULT";
    if crate::sys::memory::kernel_space().is_some() {
        let w = raw::write_from(rw.file(), Unusable::Kernel, 8);
        tap.check(w == Err(Errno::EFAULT), format!("{what} ({w:?})"));
    } else {
        tap.skip(
            what,
            "a 32-bit program on a 64-bit kernel has no kernel space to point at",
        );
    }
    let signal = rtsig::set_signal(rw.as_fd(), 65).map_err(|e| e.raw_os_error());
    tap.check(
        signal == Err(Some(libc::EINVAL)),
        format!("F_SETSIG 65 fails with EINVAL ({signal:?})"),
    );
    let mut read_only = Device::open(&ctx.device, Access::Read)?;
    let write_only = Device::open_with(&ctx.device, Access::Write, OFlag::O_NONBLOCK)?;
    let w = errno_of(read_only.send(b"x"));
    let r = errno_of(write_only.receive(16));
    tap.check(
        w == Some(Errno::EBADF) && r == Some(Errno::EBADF),
        format!(
            "write on a read-only file and read on a write-only one fail with EBADF ({w:?}, {r:?})"
        ),
    );
    // O_ACCMODE (3): open for ioctls only, neither reads nor writes.
    let neither = nix::fcntl::open(
        &ctx.device,
        OFlag::O_ACCMODE | OFlag::O_NONBLOCK,
        nix::sys::stat::Mode::empty(),
    )?;
    let r = nix::unistd::read(&neither, &mut buf);
    tap.check(
        r == Err(Errno::EBADF),
        format!("a file opened with access mode 3 cannot read: EBADF ({r:?})"),
    );
    drop(neither);
    let back = rw.receive(16)?;
    tap.check(back == b"a message", "the device still works afterwards");
    Ok(())
}

pub fn unsubscribe(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let sigio = SigioCounter::install()?;
    let reader = Device::open(&ctx.device, Access::Read)?;
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    reader.subscribe(getpid())?;
    let base = sigio.settle(Duration::from_millis(50));
    writer.send(b"one")?;
    let subscribed = sigio.wait_beyond(base, wait());
    tap.check(subscribed == base + 1, "subscribed: one SIGIO per write");
    reader.set_async(false)?;
    writer.send(b"two")?;
    let cleared = sigio.settle(Duration::from_millis(200));
    tap.check(cleared == subscribed, "O_ASYNC cleared: no SIGIO");
    reader.set_async(true)?;
    writer.send(b"three")?;
    let again = sigio.wait_beyond(cleared, wait());
    tap.check(again == cleared + 1, "O_ASYNC set again: SIGIO again");
    drop(reader);
    writer.send(b"four")?;
    let closed = sigio.settle(Duration::from_millis(200));
    tap.check(closed == again, "closed subscriber: no SIGIO");
    Ok(())
}

pub fn fresh_buffer(ctx: &Context, tap: &mut Tap) -> CaseResult {
    {
        let mut dev = Device::open(&ctx.device, Access::ReadWrite)?;
        dev.send(b"forgotten after the last close")?;
    }
    let dev = Device::open_with(&ctx.device, Access::Read, OFlag::O_NONBLOCK)?;
    let back = errno_of(dev.receive(ctx.params.buffer_size));
    tap.check(
        back == Some(Errno::EAGAIN),
        format!("a reopened device has no message: EAGAIN ({back:?})"),
    );
    Ok(())
}

pub fn module_params(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let Some(path) = &ctx.module else {
        tap.skip("loads with bad and good parameters", "no --module given");
        return Ok(());
    };
    module::unload()?;
    let gone = module::wait_gone(&ctx.device, wait());
    tap.check(
        gone.is_ok(),
        format!(
            "rmmod removed {} ({})",
            ctx.device.display(),
            module::describe(&gone)
        ),
    );

    // Each bound's neighbour outside the range, then far outside.
    for params in [
        "buffer_size=0",
        "buffer_size=65537",
        "devices=0",
        "devices=257",
        "buffer_size=1048576",
    ] {
        let mut log = module::KernelLog::open()?;
        let result = module::load(path, params);
        let name = params.split('=').next().unwrap_or(params);
        tap.check(
            result == Err(Errno::EINVAL),
            format!("insmod {params} fails with EINVAL ({result:?})"),
        );
        let line = log.find(|l| l.contains("asyncn") && l.contains(name));
        tap.check(
            line.is_some(),
            format!("kernel log says why: {}", line.unwrap_or_default()),
        );
    }

    // Both ends of each range load, and work (256 devices: 1.6 s to load
    // and 1.0 s to unload with mdev on the emulated Raspberry Pi).
    for (devices, buffer_size) in [(1u32, 1usize), (256, 65536)] {
        let params = format!("devices={devices} buffer_size={buffer_size}");
        let loaded = module::load(path, &params);
        let last = crate::device::node_path(&ctx.device, devices - 1);
        let node = module::wait_for(&last, wait());
        tap.check(
            loaded.is_ok() && node.is_ok(),
            format!(
                "insmod {params} loads and makes {} ({loaded:?}, {})",
                last.display(),
                module::describe(&node)
            ),
        );
        if loaded.is_ok() {
            let works = full_message_round_trip(&last, buffer_size);
            tap.check(
                works.is_ok(),
                format!("a {buffer_size}-byte message round-trips on its last device ({works:?})"),
            );
            module::unload()?;
            let gone = module::wait_gone(&last, wait());
            tap.check(
                gone.is_ok(),
                format!("and rmmod removes it ({})", module::describe(&gone)),
            );
        }
    }

    // Back to the parameters the module had, for whatever runs next.
    let original = format!(
        "devices={} buffer_size={}",
        ctx.params.devices, ctx.params.buffer_size
    );
    module::load(path, &original).map_err(io::Error::from)?;
    let back = module::wait_for(&ctx.device, wait());
    tap.check(
        back.is_ok(),
        format!(
            "reload with {original} recreated {} ({})",
            ctx.device.display(),
            module::describe(&back)
        ),
    );
    Ok(())
}

/// Writes a message one byte longer than `buffer_size` to `node` and reads
/// it back: `buffer_size` bytes accepted, the same bytes read; sysfs shows
/// the size.
fn full_message_round_trip(node: &std::path::Path, buffer_size: usize) -> Result<(), String> {
    let shown = crate::device::read_stats(&crate::device::sysfs_dir(node))
        .map_err(|e| format!("sysfs: {e}"))?
        .get("buffer_size")
        .copied();
    if shown != Some(buffer_size as u64) {
        return Err(format!("sysfs buffer_size {shown:?}"));
    }
    let reader =
        Device::open_with(node, Access::Read, OFlag::O_NONBLOCK).map_err(|e| e.to_string())?;
    let mut writer = Device::open(node, Access::Write).map_err(|e| e.to_string())?;
    let message: Vec<u8> = (0..=buffer_size).map(|i| (i % 251) as u8 + 1).collect();
    let accepted = writer.send(&message).map_err(|e| format!("write: {e}"))?;
    let back = reader
        .receive(buffer_size + 1)
        .map_err(|e| format!("read: {e}"))?;
    if accepted != buffer_size || back != message[..buffer_size] {
        return Err(format!("wrote {accepted}, read {} bytes", back.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn scenario_ends_with_stop_reading() {
        assert_eq!(super::SCENARIO_MESSAGES.last(), Some(&"stop reading"));
    }
}
