//! Blocking and non-blocking reads, `poll` and `epoll`: `read` returns a
//! message the open file has not read yet, otherwise it blocks (or fails
//! with `EAGAIN`), and readiness reports exactly that.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{getpid, getppid};

use crate::device::{Access, Device};
use crate::harness::Tap;
use crate::harness::{wait, CaseResult, Context};
use crate::proc::{read_timeout, reap, spawn, wait_until_sleeping, Channel};
use crate::sys::rtsig::{self, Interrupting};

/// Writes `message` to the device from a child process after `delay`.
fn write_later(
    ctx: &Context,
    delay: Duration,
    message: &'static [u8],
) -> std::io::Result<nix::unistd::Pid> {
    let device = ctx.device.clone();
    spawn(move || {
        std::thread::sleep(delay);
        match Device::open(&device, Access::Write).and_then(|mut d| d.send(message)) {
            Ok(_) => 0,
            Err(_) => 1,
        }
    })
}

fn errno(result: std::io::Result<Vec<u8>>) -> Result<Vec<u8>, Errno> {
    result.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
}

pub fn blocking_read(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let reader = Device::open(&ctx.device, Access::Read)?;
    let delay = Duration::from_millis(300);
    let writer = write_later(ctx, delay, b"wake up")?;
    let start = Instant::now();
    let message = reader.receive(ctx.params.buffer_size)?;
    let waited = start.elapsed();
    reap(writer, wait());
    tap.check(
        message == b"wake up",
        "a blocked read returns the next write's message",
    );
    tap.check(
        waited >= delay - Duration::from_millis(50),
        format!("it slept until the write ({} ms)", waited.as_millis()),
    );

    // Up to date again: the next read blocks until a signal interrupts it.
    let interrupting = Interrupting::install(Signal::SIGUSR1)?;
    let parent = getpid();
    // Again and again, not once: a single signal that lands before the read
    // has blocked (the parent preempted on a busy board) would leave the
    // read blocked for good.
    let interrupter = spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        // Only while the parent lives: an orphan must not signal its pid.
        while getppid() == parent && kill(parent, Signal::SIGUSR1).is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
        1
    })?;
    let interrupted = errno(reader.receive(ctx.params.buffer_size));
    // Stopped before the old disposition is back: a late SIGUSR1 is taken
    // by the do-nothing handler on the way out of these calls.
    let _ = kill(interrupter, Signal::SIGKILL);
    reap(interrupter, wait());
    drop(interrupting);
    tap.check(
        interrupted == Err(Errno::EINTR),
        format!("a signal ends the wait with EINTR, no SA_RESTART ({interrupted:?})"),
    );

    // Under SA_RESTART the kernel restarts the interrupted read, which goes
    // on waiting for the next write. A child signals the reader SIGNALS
    // times, each while it sleeps (in the read), then writes.
    const SIGNALS: u32 = 5;
    let restarting = Interrupting::install_restarting(Signal::SIGUSR1)?;
    let before = Interrupting::handled();
    let device = ctx.device.clone();
    let interrupter = spawn(move || {
        for _ in 0..SIGNALS {
            if !wait_until_sleeping(parent, wait())
                || getppid() != parent
                || kill(parent, Signal::SIGUSR1).is_err()
            {
                return 2;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Asleep again (restarted) before the write.
        if !wait_until_sleeping(parent, wait()) {
            return 2;
        }
        match Device::open(&device, Access::Write).and_then(|mut d| d.send(b"restarted")) {
            Ok(_) => 0,
            Err(_) => 1,
        }
    })?;
    let restarted = errno(reader.receive(ctx.params.buffer_size));
    let mut status = reap(interrupter, wait());
    if status.is_none() {
        // Gone before the handler is: a late SIGUSR1 would end the program.
        let _ = kill(interrupter, Signal::SIGKILL);
        status = reap(interrupter, wait());
    }
    let handled = Interrupting::handled() - before;
    drop(restarting);
    let expected = &b"restarted"[..9.min(ctx.params.buffer_size)];
    tap.check(
        restarted.as_deref() == Ok(expected) && handled >= SIGNALS && status == Some(0),
        format!(
            "under SA_RESTART a read interrupted {handled} times (of {SIGNALS} sent while it \
             slept; sender {status:?}) is restarted and returns the next write's message \
             ({restarted:?})"
        ),
    );
    Ok(())
}

/// A blocked reader wakes for a write that also signals many subscribers.
/// The wake-up must follow the publication of the message: a reader woken
/// while the writer is still signalling the subscribers would find nothing
/// new, sleep again, and miss the message (notify before publish).
pub fn wake_after_publish(ctx: &Context, tap: &mut Tap) -> CaseResult {
    const SUBSCRIBERS: usize = 64;
    const ROUNDS: u8 = 20;
    // Their signals queue here, blocked, and are drained each round.
    let signal = rtsig::rt_signal(7);
    rtsig::block(signal)?;
    let mut subscribers = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let file = Device::open(&ctx.device, Access::Read)?;
        rtsig::set_signal(file.as_fd(), signal)?;
        file.subscribe(getpid())?;
        subscribers.push(file);
    }
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let mut woken = 0;
    for round in 0..ROUNDS {
        let ready = Channel::new()?;
        let mut ready_tx = ready.write_end()?;
        let path = ctx.device.clone();
        let message = [b'w', b'0' + round];
        let reader = spawn(move || {
            // Nothing unread (a new file may read the current message),
            // then a blocking read for the next one.
            let Ok(dev) = Device::open_with(&path, Access::Read, OFlag::O_NONBLOCK) else {
                return 2;
            };
            while dev.receive(16).is_ok() {}
            if nix::fcntl::fcntl(dev.as_fd(), nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))
                .is_err()
                || ready_tx.write_all(b"r").is_err()
            {
                return 2;
            }
            match dev.receive(16) {
                Ok(m) if m == message => 0,
                _ => 1,
            }
        })?;
        let mut byte = [0u8; 1];
        read_timeout(&mut ready.receiver(), &mut byte, wait())?;
        // Write once the reader sleeps in `read`: a reader not yet there
        // would find the message without being woken.
        wait_until_sleeping(reader, wait());
        writer.send(&message)?;
        if reap(reader, wait()) == Some(0) {
            woken += 1;
        }
        while rtsig::take_pending(&[signal]).is_some() {}
    }
    drop(subscribers);
    while rtsig::take_pending(&[signal]).is_some() {}
    rtsig::unblock(signal)?;
    tap.check(
        woken == ROUNDS,
        format!(
            "a blocked reader wakes with the message of a write that also signals \
             {SUBSCRIBERS} subscribers ({woken} of {ROUNDS} rounds)"
        ),
    );
    Ok(())
}

pub fn nonblocking(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let reader = Device::open_with(&ctx.device, Access::Read, OFlag::O_NONBLOCK)?;
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let empty = errno(reader.receive(ctx.params.buffer_size));
    tap.check(
        empty == Err(Errno::EAGAIN),
        format!("no message yet: EAGAIN ({empty:?})"),
    );
    writer.send(b"fresh")?;
    let fresh = errno(reader.receive(ctx.params.buffer_size));
    tap.check(
        fresh.as_deref() == Ok(b"fresh"),
        "after a write: the message",
    );
    let again = errno(reader.receive(ctx.params.buffer_size));
    tap.check(
        again == Err(Errno::EAGAIN),
        format!("read already: EAGAIN ({again:?})"),
    );
    let late = Device::open_with(&ctx.device, Access::Read, OFlag::O_NONBLOCK)?;
    let unread = errno(late.receive(ctx.params.buffer_size));
    tap.check(
        unread.as_deref() == Ok(b"fresh"),
        "a file opened later reads the current message once",
    );
    Ok(())
}

fn revents(device: &Device, events: PollFlags) -> nix::Result<PollFlags> {
    let mut fds = [PollFd::new(device.as_fd(), events)];
    poll(&mut fds, PollTimeout::ZERO)?;
    Ok(fds[0].revents().unwrap_or(PollFlags::empty()))
}

pub fn poll_readiness(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let reader = Device::open(&ctx.device, Access::Read)?;
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let input = PollFlags::POLLIN | PollFlags::POLLRDNORM;
    let output = PollFlags::POLLOUT | PollFlags::POLLWRNORM;
    let all = input | output;

    let idle = revents(&reader, all)?;
    tap.check(
        idle.is_empty(),
        format!("reader with nothing to read: no events ({idle:?})"),
    );
    let w = revents(&writer, all)?;
    tap.check(w == output, format!("writer: POLLOUT | POLLWRNORM ({w:?})"));
    writer.send(b"ready")?;
    let ready = revents(&reader, all)?;
    tap.check(
        ready == input,
        format!("after a write: POLLIN | POLLRDNORM ({ready:?})"),
    );
    reader.receive(ctx.params.buffer_size)?;
    let done = revents(&reader, all)?;
    tap.check(
        done.is_empty(),
        format!("after reading it: no events ({done:?})"),
    );

    // select(2) goes through the same poll method.
    writer.send(b"select")?;
    let ready = select_readable(&reader)?;
    tap.check(ready, "select reports the reader readable after a write");
    Ok(())
}

fn select_readable(device: &Device) -> nix::Result<bool> {
    use nix::sys::select::{select, FdSet};
    use nix::sys::time::{TimeVal, TimeValLike};
    let mut set = FdSet::new();
    set.insert(device.as_fd());
    let mut timeout = TimeVal::milliseconds(0);
    Ok(select(None, &mut set, None, None, &mut timeout)? == 1)
}

pub fn epoll(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let reader = Device::open(&ctx.device, Access::Read)?;
    let epoll = Epoll::new(EpollCreateFlags::empty())?;
    epoll.add(reader.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 7))?;
    let mut events = [EpollEvent::empty(); 4];

    let before = epoll.wait(&mut events, EpollTimeout::from(100u16))?;
    tap.check(
        before == 0,
        format!("epoll_wait: nothing before a write ({before} events)"),
    );

    let writer = write_later(ctx, Duration::from_millis(100), b"epoll")?;
    let ms = u16::try_from(wait().as_millis()).unwrap_or(u16::MAX);
    let after = epoll.wait(&mut events, EpollTimeout::from(ms))?;
    reap(writer, wait());
    tap.check(
        after == 1 && events[0].data() == 7 && events[0].events().contains(EpollFlags::EPOLLIN),
        format!("epoll_wait returns the fd with EPOLLIN after the write ({after} events)"),
    );
    let message = reader.receive(ctx.params.buffer_size)?;
    tap.check(message == b"epoll", "and read returns the message");
    let drained = epoll.wait(&mut events, EpollTimeout::from(50u16))?;
    tap.check(
        drained == 0,
        format!("nothing once it is read ({drained} events)"),
    );
    Ok(())
}
