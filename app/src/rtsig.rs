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
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as _,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        loop {
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

/// Lets this process and its children queue many real-time signals: the
/// default `RLIMIT_SIGPENDING` of a small guest is a few thousand, and an
/// overflowing queue makes the kernel fall back to plain `SIGIO`.
pub fn raise_pending_limit() {
    let limit = libc::rlimit {
        rlim_cur: 1 << 20,
        rlim_max: 1 << 20,
    };
    // SAFETY: `limit` is a valid rlimit. Failing (not root) keeps the
    // default, which the runs' drain-as-you-go keeps far from.
    unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &limit) };
}

extern "C" fn on_timer(_: libc::c_int) {}

/// Sets up a worker process of the stress and fuzz runs: `queued` signals
/// stay blocked (taken with `sigtimedwait`), and `SIGALRM` from
/// [`arm_timer`] interrupts a blocking system call (`EINTR`, no restart).
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

/// Arms a one-shot `SIGALRM` in `after` (zero disarms it).
pub fn arm_timer(after: Duration) {
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            tv_sec: after.as_secs() as _,
            tv_usec: after.subsec_micros() as _,
        },
    };
    // SAFETY: `timer` is valid; the old value is not wanted.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &timer, std::ptr::null_mut()) };
}

/// `F_SETSIG` (include/uapi/asm-generic/fcntl.h; 10 on every Linux
/// architecture we target, not exported by the libc crate for all of them).
const F_SETSIG: libc::c_int = 10;

/// `fcntl(fd, F_SETSIG, signal)`.
pub fn set_signal(fd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    // SAFETY: F_SETSIG takes an int argument; `fd` is a live descriptor.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), F_SETSIG, signal) };
    Errno::result(ret).map(drop).map_err(io::Error::from)
}
