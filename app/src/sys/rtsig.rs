//! Queued real-time signals, as `fcntl(F_SETSIG)` makes the kernel send:
//! one queued signal per notification, carrying `si_fd`, `si_code` and
//! `si_band`. The signal stays blocked and is taken with `sigtimedwait`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;

/// The `SIGPOLL` fields of a received signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollSignal {
    pub fd: i32,
    pub code: i32,
    pub band: i64,
}

/// The head of the kernel's `siginfo_t` for `SIGPOLL` (and for real-time
/// signals sent by `F_SETSIG`): three ints, then the union, whose `_sigpoll`
/// member is `{ long si_band; int si_fd; }`. `repr(C)` gives the union's
/// alignment on both 32- and 64-bit targets.
#[repr(C)]
struct SigpollHead {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    band: libc::c_long,
    fd: libc::c_int,
}

// The copied layout, checked at compile time: the kernel's preamble is
// three ints padded to the union's alignment (`__ARCH_SI_PREAMBLE_SIZE`:
// 16 bytes on 64-bit, 12 on 32-bit), then `_sigpoll`'s `si_band` and
// `si_fd`, all inside `siginfo_t`.
const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    let preamble = if cfg!(target_pointer_width = "64") {
        16
    } else {
        12
    };
    assert!(offset_of!(SigpollHead, signo) == 0);
    assert!(offset_of!(SigpollHead, errno) == 4);
    assert!(offset_of!(SigpollHead, code) == 8);
    assert!(offset_of!(SigpollHead, band) == preamble);
    assert!(offset_of!(SigpollHead, fd) == preamble + size_of::<libc::c_long>());
    assert!(size_of::<SigpollHead>() <= size_of::<libc::siginfo_t>());
    assert!(align_of::<SigpollHead>() <= align_of::<libc::siginfo_t>());
};

/// `si_code` of a readable-data notification (`POLL_IN`).
pub const POLL_IN: i32 = 1;

/// The real-time signal `SIGRTMIN + offset`.
pub fn rt_signal(offset: i32) -> i32 {
    libc::SIGRTMIN() + offset
}

/// Blocks `signal` in this process so it queues instead of running a handler.
pub fn block(signal: i32) -> io::Result<()> {
    change_mask(libc::SIG_BLOCK, signal)
}

/// Unblocks `signal` again.
pub fn unblock(signal: i32) -> io::Result<()> {
    change_mask(libc::SIG_UNBLOCK, signal)
}

fn change_mask(how: libc::c_int, signal: i32) -> io::Result<()> {
    // SAFETY: plain signal-mask manipulation on a zero-initialised set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        Errno::result(libc::sigprocmask(how, &set, std::ptr::null_mut()))?;
    }
    Ok(())
}

/// Takes one queued `signal`, waiting up to `timeout`.
pub fn take(signal: i32, timeout: Duration) -> io::Result<Option<PollSignal>> {
    Ok(take_any(&[signal], timeout)?.map(|(_, info)| info))
}

/// Takes one pending signal of `signals` without waiting: its number and
/// `SIGPOLL` fields.
pub fn take_pending(signals: &[i32]) -> Option<(i32, PollSignal)> {
    take_any(signals, Duration::ZERO).ok().flatten()
}

/// Takes one queued signal of `signals`, waiting up to `timeout`.
pub fn take_any(signals: &[i32], timeout: Duration) -> io::Result<Option<(i32, PollSignal)>> {
    // SAFETY: `set`, `info` and `ts` are valid for the call; `siginfo_t` is
    // larger than `SigpollHead`, which matches its start.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        let mut info: libc::siginfo_t = std::mem::zeroed();
        // After EINTR (a worker's SIGALRM) the wait goes on for what is
        // left, so it still ends at `timeout`.
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ts = libc::timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            };
            match Errno::result(libc::sigtimedwait(&set, &mut info, &ts)) {
                Ok(signo) => {
                    let head = &*(&info as *const libc::siginfo_t).cast::<SigpollHead>();
                    // `c_long` is 32 bits on armv7: a real conversion there.
                    #[allow(clippy::useless_conversion)]
                    let band = i64::from(head.band);
                    let info = PollSignal {
                        fd: head.fd,
                        code: head.code,
                        band,
                    };
                    return Ok(Some((signo, info)));
                }
                Err(Errno::EAGAIN) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The real-time signal the stress run subscribes with.
pub fn stress_signal() -> i32 {
    rt_signal(3)
}

/// What [`raise_pending_limit`] asks for: far more signals than a run can
/// have pending (workers take theirs as they go).
pub const RAISED_PENDING_LIMIT: u64 = 1 << 20;

/// Lets this process and its children queue many real-time signals: the
/// default `RLIMIT_SIGPENDING` of a small guest is a few thousand, and an
/// overflowing queue makes the kernel fall back to plain `SIGIO`.
pub fn raise_pending_limit() {
    let limit = libc::rlimit {
        rlim_cur: RAISED_PENDING_LIMIT as libc::rlim_t,
        rlim_max: RAISED_PENDING_LIMIT as libc::rlim_t,
    };
    // SAFETY: `limit` is a valid rlimit. Failing (not root) keeps the
    // default, which the runs' drain-as-you-go keeps far from.
    unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &limit) };
}

/// This process's `RLIMIT_SIGPENDING` (0 when it cannot be read).
pub fn pending_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_SIGPENDING, &mut limit) } != 0 {
        return 0;
    }
    // `rlim_t` is 32 bits on 32-bit glibc.
    #[allow(clippy::unnecessary_cast)]
    let current = limit.rlim_cur as u64;
    current
}

extern "C" fn on_timer(_: libc::c_int) {}

/// Sets up a worker process of the stress and fuzz runs: `queued` signals
/// stay blocked (taken with `sigtimedwait`), and `SIGALRM` from
/// [`arm_timer`] interrupts blocking system calls (`EINTR`, no restart).
pub fn prepare_worker(queued: &[i32]) -> io::Result<()> {
    for &signal in queued {
        block(signal)?;
    }
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    // No SA_RESTART: the interrupted call returns EINTR.
    let action = SigAction::new(
        SigHandler::Handler(on_timer),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGALRM, &action) }?;
    Ok(())
}

/// For worker processes only (in the program, `SIGALRM` is the watchdog's
/// way to end it). Sends `SIGALRM` every `period` until disarmed (zero disarms it), so a
/// blocking call made after arming returns `EINTR` within one period however
/// late it starts. A one-shot timer is not enough: when the worker is
/// preempted between arming and the call (8 workers on 2 emulated CPUs), the
/// signal lands before the call blocks, and the call then blocks for good:
/// a blocking read with no writer left after the run was told to stop.
pub fn arm_timer(period: Duration) {
    let interval = libc::timeval {
        tv_sec: period.as_secs() as _,
        tv_usec: period.subsec_micros() as _,
    };
    let timer = libc::itimerval {
        it_interval: interval,
        it_value: interval,
    };
    // SAFETY: `timer` is valid; the old value is not wanted.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
}

/// `F_SETSIG` (include/uapi/asm-generic/fcntl.h; 10 on every Linux
/// architecture we target, not exported by the libc crate for all of them).
pub const F_SETSIG: libc::c_int = 10;
/// `F_GETSIG`: 11, likewise.
pub const F_GETSIG: libc::c_int = 11;

/// While alive, `signal` runs a handler that does nothing, without
/// `SA_RESTART`: it interrupts a blocking call (`EINTR`) and is otherwise
/// ignored (or, from `install_restarting`, one that counts it, with
/// `SA_RESTART`). The previous disposition comes back on drop.
#[must_use = "the previous disposition comes back when this is dropped"]
pub struct Interrupting {
    signal: nix::sys::signal::Signal,
    previous: nix::sys::signal::SigAction,
}

extern "C" fn do_nothing(_: libc::c_int) {}

/// Signals taken by [`Interrupting::install_restarting`]'s handler.
static RESTARTING_HANDLED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

extern "C" fn count_handled(_: libc::c_int) {
    RESTARTING_HANDLED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

impl Interrupting {
    pub fn install(signal: nix::sys::signal::Signal) -> nix::Result<Self> {
        Self::with(signal, do_nothing, nix::sys::signal::SaFlags::empty())
    }

    /// The same with `SA_RESTART`: an interrupted call that may be
    /// restarted is, and the handler counts the signals ([`Self::handled`]).
    pub fn install_restarting(signal: nix::sys::signal::Signal) -> nix::Result<Self> {
        Self::with(signal, count_handled, nix::sys::signal::SaFlags::SA_RESTART)
    }

    /// Signals the `SA_RESTART` handler has taken since the program began.
    pub fn handled() -> u32 {
        RESTARTING_HANDLED.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn with(
        signal: nix::sys::signal::Signal,
        handler: extern "C" fn(libc::c_int),
        flags: nix::sys::signal::SaFlags,
    ) -> nix::Result<Self> {
        use nix::sys::signal::{sigaction, SigAction, SigHandler, SigSet};
        let action = SigAction::new(SigHandler::Handler(handler), flags, SigSet::empty());
        // SAFETY: the handlers do nothing or add to an atomic, which is
        // async-signal-safe.
        let previous = unsafe { sigaction(signal, &action) }?;
        Ok(Self { signal, previous })
    }
}

impl Drop for Interrupting {
    fn drop(&mut self) {
        // SAFETY: restores the disposition `install` replaced.
        let _ = unsafe { nix::sys::signal::sigaction(self.signal, &self.previous) };
    }
}

/// `sigqueue(pid, signal, 0)`: queues `signal` (real-time ones included,
/// which nix's `Signal` cannot name) for process `pid`.
pub fn queue_signal(pid: nix::unistd::Pid, signal: i32) -> io::Result<()> {
    // SAFETY: a zeroed sigval (a union of an int and a pointer) is valid.
    let value: libc::sigval = unsafe { std::mem::zeroed() };
    // SAFETY: sigqueue reads nothing but its arguments.
    Errno::result(unsafe { libc::sigqueue(pid.as_raw(), signal, value) })
        .map(drop)
        .map_err(io::Error::from)
}

/// `fcntl(fd, F_SETOWN, pid)`: the process that receives the file's
/// signals.
pub fn set_owner(fd: BorrowedFd<'_>, pid: nix::unistd::Pid) -> io::Result<()> {
    // SAFETY: F_SETOWN takes an int argument; `fd` is a live descriptor.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETOWN, pid.as_raw()) };
    Errno::result(ret).map(drop).map_err(io::Error::from)
}

/// `fcntl(fd, F_SETSIG, signal)`.
pub fn set_signal(fd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: F_SETSIG takes an int argument; `fd` is a live descriptor.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), F_SETSIG, signal) };
    Errno::result(ret).map(drop).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// The fields `take` reads are the kernel's: a pipe, the kernel's own
    /// `fasync` user, queues a real-time signal (`F_SETSIG`) for its read
    /// end on a write, with `si_fd`, `si_code` `POLL_IN` and `si_band`
    /// `POLLIN | POLLRDNORM`, the same as the driver's.
    #[test]
    fn siginfo_of_a_queued_sigpoll_reads_back_fd_code_and_band() {
        // In a child: the signal is sent to a process, which must have no
        // other thread that could take it (the test harness has several).
        // SAFETY: the child makes only system calls and leaves by _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let check = || -> io::Result<bool> {
                let signal = rt_signal(3);
                block(signal)?;
                let mut fds = [0; 2];
                // SAFETY: `fds` has room for the two descriptors.
                Errno::result(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
                // SAFETY: fcntl on the pipe's fresh descriptors, with int
                // arguments.
                unsafe {
                    Errno::result(libc::fcntl(fds[0], libc::F_SETOWN, libc::getpid()))?;
                    Errno::result(libc::fcntl(fds[0], F_SETSIG, signal))?;
                    Errno::result(libc::fcntl(fds[0], libc::F_SETFL, libc::O_ASYNC))?;
                    Errno::result(libc::write(fds[1], b"x".as_ptr().cast(), 1))?;
                }
                let got = take(signal, Duration::from_secs(5))?;
                Ok(got
                    == Some(PollSignal {
                        fd: fds[0],
                        code: POLL_IN,
                        band: i64::from(libc::POLLIN | libc::POLLRDNORM),
                    }))
            };
            let code = match check() {
                Ok(true) => 0,
                Ok(false) => 1,
                Err(_) => 2,
            };
            // SAFETY: leaves the child without the harness's exit handlers.
            unsafe { libc::_exit(code) }
        }
        let status = crate::proc::reap(nix::unistd::Pid::from_raw(pid), Duration::from_secs(5));
        assert_eq!(
            status,
            Some(0),
            "Some(1): the signal's fields differ; Some(2): a call failed; None: no end"
        );
    }

    /// A blocking call that starts after the timer's first expiry is still
    /// interrupted (the cause of a fuzz worker that never stopped).
    #[test]
    fn timer_interrupts_a_call_that_blocks_late() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the child makes only system calls and leaves by _exit,
        // so forking the multi-threaded test process is fine.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            if prepare_worker(&[]).is_err() {
                // SAFETY: as below.
                unsafe { libc::_exit(2) }
            }
            arm_timer(Duration::from_millis(10));
            // Busy past the first expiry, as a preempted worker would be.
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(50) {}
            let mut byte = 0u8;
            // SAFETY: reads one byte into `byte`; the child holds the write
            // end, so only a signal can end this read.
            let n = unsafe { libc::read(fds[0], (&mut byte as *mut u8).cast(), 1) };
            let interrupted =
                n == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR);
            arm_timer(Duration::ZERO);
            // SAFETY: leaves the forked child without running the test
            // harness's exit handlers.
            unsafe { libc::_exit(if interrupted { 0 } else { 1 }) }
        }
        // SAFETY: closes the parent's copies of the pipe.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        let status = crate::proc::reap(nix::unistd::Pid::from_raw(pid), Duration::from_secs(5));
        assert_eq!(
            status,
            Some(0),
            "None: the late blocking read was not interrupted (the child was killed); \
             Some(1): read ended otherwise; Some(2): no SIGALRM handler"
        );
    }
}
