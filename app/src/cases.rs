//! The test cases. Each runs against a loaded module and records checks.

use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::getpid;

use crate::device::{Access, Device, ModuleParams};
use crate::proc::{read_timeout, reap, spawn, Channel};
use crate::sigio::SigioCounter;
use crate::tap::Tap;
use crate::{faults, lifecycle, module, rtsig, stall, vectored};

/// What every case needs.
#[derive(Clone)]
pub struct Context {
    pub device: PathBuf,
    pub pace: Duration,
    pub module: Option<PathBuf>,
    pub params: ModuleParams,
}

pub type CaseResult = Result<(), Box<dyn std::error::Error>>;

pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    pub run: fn(&Context, &mut Tap) -> CaseResult,
}

pub const CASES: &[Case] = &[
    Case {
        name: "scenario",
        about: "a reader process is notified by SIGIO of each message a writer process sends",
        run: scenario,
    },
    Case {
        name: "truncate",
        about: "a write longer than buffer_size is truncated and its accepted length returned",
        run: truncate,
    },
    Case {
        name: "short-after-long",
        about: "a short message after a long one reads back exactly, no stale bytes",
        run: short_after_long,
    },
    Case {
        name: "zero-length",
        about: "a zero-length write returns 0, keeps the message and notifies no one",
        run: zero_length,
    },
    Case {
        name: "not-seekable",
        about: "lseek, pread and pwrite fail with ESPIPE",
        run: not_seekable,
    },
    Case {
        name: "bad-pointer",
        about: "bad user pointers give EFAULT and leave the device usable",
        run: bad_pointer,
    },
    Case {
        name: "faulting-write",
        about: "a write or writev that faults leaves the previous message readable, unsignalled",
        run: vectored::faulting_write,
    },
    Case {
        name: "writev",
        about: "writev of 3 iovecs is one message, one sysfs write, one signal per subscriber",
        run: vectored::writev,
    },
    Case {
        name: "readv",
        about: "readv spreads one message over its iovecs",
        run: vectored::readv,
    },
    Case {
        name: "blocking-readv",
        about: "a blocked readv whose first iovec is short returns exactly one message",
        run: vectored::blocking_readv,
    },
    Case {
        name: "zero-length-read",
        about: "a zero-length read returns 0 at once and leaves the message unread",
        run: vectored::zero_length_read,
    },
    Case {
        name: "stall",
        about: "a read or write stalled on a userfaultfd page blocks no other opener",
        run: stall::stall,
    },
    Case {
        name: "unknown-ioctl",
        about: "ioctls fail with ENOTTY",
        run: unknown_ioctl,
    },
    Case {
        name: "other-calls",
        about: "mmap, fsync, ftruncate, huge lengths, kernel addresses, wrong access mode, bad F_SETSIG",
        run: other_calls,
    },
    Case {
        name: "unsubscribe",
        about: "clearing O_ASYNC stops the signals; setting it again restores them",
        run: unsubscribe,
    },
    Case {
        name: "fresh-buffer",
        about: "the buffer is freed with the last close: a reopened device has no message",
        run: fresh_buffer,
    },
    Case {
        name: "blocking-read",
        about: "a read with nothing unread blocks until the next write; a signal interrupts it",
        run: crate::readiness::blocking_read,
    },
    Case {
        name: "nonblocking",
        about: "under O_NONBLOCK an up-to-date reader gets EAGAIN",
        run: crate::readiness::nonblocking,
    },
    Case {
        name: "poll",
        about: "poll/select report POLLIN exactly when read would not block, POLLOUT to writers",
        run: crate::readiness::poll_readiness,
    },
    Case {
        name: "epoll",
        about: "epoll_wait returns the fd after a write and not before",
        run: crate::readiness::epoll,
    },
    Case {
        name: "setsig",
        about: "F_SETSIG queues one real-time signal per write with si_fd, si_code and si_band",
        run: crate::fanout::setsig,
    },
    Case {
        name: "fanout",
        about: "64 subscriber processes over several devices each get exactly their device's writes",
        run: crate::fanout::fanout,
    },
    Case {
        name: "statistics",
        about: "sysfs counters: buffer_size, readers, writers, subscribers, writes, notifications",
        run: crate::sysfs::statistics,
    },
    Case {
        name: "permissions",
        about: "the udev/mdev rule gives the nodes group asyncn and mode 0660",
        run: crate::sysfs::permissions,
    },
    Case {
        name: "posix-aio",
        about: "aio_read and aio_write complete with completion signals",
        run: crate::asyncio::posix_aio,
    },
    Case {
        name: "tokio",
        about: "a tokio AsyncFd reader is woken by the driver's poll",
        run: crate::asyncio::tokio_reader,
    },
    Case {
        name: "tracing",
        about: "per-operation traces are dynamic debug prints: off by default, switchable",
        run: crate::tracing::tracing,
    },
    Case {
        name: "module-params",
        about: "bad module parameters fail the load with EINVAL and a log line; unload removes the nodes",
        run: module_params,
    },
    Case {
        name: "killed",
        about: "SIGKILL of a subscriber blocked in read releases its file; the device keeps working",
        run: lifecycle::killed,
    },
    Case {
        name: "unload-busy",
        about: "rmmod while a file is open is refused with EWOULDBLOCK and changes nothing",
        run: lifecycle::unload_busy,
    },
    Case {
        name: "load-cycle",
        about: "load, use and unload the module 100 times; a bad parameter in between fails",
        run: lifecycle::load_cycle,
    },
    Case {
        name: "init-faults",
        about: "every fault-injection point of a load fails it cleanly (fail-nth; debug kernels, needs --module)",
        run: faults::init_faults,
    },
];

/// How long a case waits for what should happen at once (a signal, a
/// child's answer, a node): 5 s times `--timeout-scale`.
pub fn wait() -> Duration {
    Duration::from_secs(5) * crate::tap::timeout_scale()
}

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
fn scenario(ctx: &Context, tap: &mut Tap) -> CaseResult {
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
        format!("exactly one SIGIO per message (total {total_signals:?})"),
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

fn truncate(ctx: &Context, tap: &mut Tap) -> CaseResult {
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

fn short_after_long(ctx: &Context, tap: &mut Tap) -> CaseResult {
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

fn zero_length(ctx: &Context, tap: &mut Tap) -> CaseResult {
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

fn not_seekable(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut dev = Device::open(&ctx.device, Access::ReadWrite)?;
    let seek = errno_of(dev.file().seek(SeekFrom::Start(0)));
    tap.check(
        seek == Some(Errno::ESPIPE),
        format!("lseek fails with ESPIPE ({seek:?})"),
    );
    let fd = dev.file().as_raw_fd();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is valid for 8 bytes; `fd` is open.
    let pread = Errno::result(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), 0) });
    tap.check(
        pread == Err(Errno::ESPIPE),
        format!("pread fails with ESPIPE ({pread:?})"),
    );
    // SAFETY: `buf` is valid for 8 bytes; `fd` is open.
    let pwrite = Errno::result(unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), 0) });
    tap.check(
        pwrite == Err(Errno::ESPIPE),
        format!("pwrite fails with ESPIPE ({pwrite:?})"),
    );
    Ok(())
}

fn bad_pointer(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut dev = Device::open_with(&ctx.device, Access::ReadWrite, OFlag::O_NONBLOCK)?;
    let fd = dev.file().as_raw_fd();
    let guard = module::inaccessible_page()?;
    for (what, ptr) in [
        ("NULL", std::ptr::null_mut()),
        ("a PROT_NONE page", guard.as_ptr()),
    ] {
        dev.send(b"before the fault")?;
        // SAFETY: the kernel validates the pointer; nothing is accessed here.
        let w = Errno::result(unsafe { libc::write(fd, ptr.cast_const(), 16) });
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
        // SAFETY: as above.
        let r = Errno::result(unsafe { libc::read(fd, ptr, 16) });
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

fn unknown_ioctl(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let dev = Device::open(&ctx.device, Access::ReadWrite)?;
    for request in [
        0x4e4f_0000u32 as libc::c_ulong,
        libc::TCGETS as libc::c_ulong,
    ] {
        // SAFETY: the device rejects every request before looking at the argument.
        let r =
            Errno::result(unsafe { libc::ioctl(dev.as_fd().as_raw_fd(), request as _, 0usize) });
        tap.check(
            r == Err(Errno::ENOTTY),
            format!("ioctl {request:#x} fails with ENOTTY ({r:?})"),
        );
    }
    Ok(())
}

fn other_calls(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let mut rw = Device::open_with(&ctx.device, Access::ReadWrite, OFlag::O_NONBLOCK)?;
    let fd = rw.file().as_raw_fd();
    // SAFETY: a failed mapping is not touched; a successful one is unmapped.
    let mapped = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd,
            0,
        );
        if p != libc::MAP_FAILED {
            libc::munmap(p, 4096);
        }
        Errno::result(if p == libc::MAP_FAILED { -1 } else { 0 })
    };
    tap.check(
        mapped == Err(Errno::ENODEV),
        format!("mmap fails with ENODEV ({mapped:?})"),
    );
    // SAFETY: these take only a descriptor and a length.
    let (sync, truncate) = unsafe { (libc::fsync(fd), libc::ftruncate(fd, 0)) };
    let (sync, truncate) = (Errno::result(sync), Errno::result(truncate));
    tap.check(
        sync == Err(Errno::EINVAL) && truncate == Err(Errno::EINVAL),
        format!("fsync and ftruncate fail with EINVAL ({sync:?}, {truncate:?})"),
    );
    rw.send(b"a message")?;
    let mut buf = [0u8; 16];
    // SAFETY: the kernel checks the whole range before copying; it is
    // rejected, so nothing beyond `buf` is written.
    let huge = Errno::result(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), usize::MAX) });
    tap.check(
        huge == Err(Errno::EFAULT),
        format!("a read of SIZE_MAX bytes fails with EFAULT ({huge:?})"),
    );
    let kernel: usize = if cfg!(target_pointer_width = "64") {
        0xffff_ff80_0000_0000_u64 as usize
    } else {
        0xc000_0000
    };
    // SAFETY: the kernel rejects the kernel-space address.
    let w = Errno::result(unsafe { libc::write(fd, kernel as *const libc::c_void, 8) });
    tap.check(
        w == Err(Errno::EFAULT),
        format!("a write from a kernel address fails with EFAULT ({w:?})"),
    );
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
    let path = std::ffi::CString::new(ctx.device.as_os_str().as_encoded_bytes())?;
    // SAFETY: `path` is NUL-terminated.
    let neither =
        Errno::result(unsafe { libc::open(path.as_ptr(), libc::O_ACCMODE | libc::O_NONBLOCK) })?;
    // SAFETY: `neither` is a descriptor opened just now and owned here.
    let neither = unsafe { std::os::fd::OwnedFd::from_raw_fd(neither) };
    // SAFETY: as above, into `buf`.
    let r = Errno::result(unsafe {
        libc::read(neither.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
    });
    tap.check(
        r == Err(Errno::EBADF),
        format!("a file opened with access mode 3 cannot read: EBADF ({r:?})"),
    );
    drop(neither);
    let back = rw.receive(16)?;
    tap.check(back == b"a message", "the device still works afterwards");
    Ok(())
}

fn unsubscribe(ctx: &Context, tap: &mut Tap) -> CaseResult {
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

fn fresh_buffer(ctx: &Context, tap: &mut Tap) -> CaseResult {
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

fn module_params(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let Some(path) = &ctx.module else {
        tap.skip("loads with bad and good parameters", "no --module given");
        return Ok(());
    };
    module::unload()?;
    let gone = module::wait_gone(&ctx.device, wait());
    tap.check(gone, format!("rmmod removed {}", ctx.device.display()));

    let too_big = "buffer_size=1048576".to_owned();
    for params in [
        "buffer_size=0",
        too_big.as_str(),
        "devices=0",
        "devices=1000",
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

    // Back to the parameters the module had, for whatever runs next.
    let original = format!(
        "devices={} buffer_size={}",
        ctx.params.devices, ctx.params.buffer_size
    );
    module::load(path, &original).map_err(io::Error::from)?;
    let back = module::wait_for(&ctx.device, wait());
    tap.check(
        back,
        format!("reload with {original} recreated {}", ctx.device.display()),
    );
    Ok(())
}
