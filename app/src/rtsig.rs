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
    // SAFETY: `set`, `info` and `ts` are valid for the call; `siginfo_t` is
    // larger than `SigpollHead`, which matches its start.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        loop {
            match Errno::result(libc::sigtimedwait(&set, &mut info, &ts)) {
                Ok(_) => {
                    let head = &*(&info as *const libc::siginfo_t).cast::<SigpollHead>();
                    // `c_long` is 32 bits on armv7: a real conversion there.
                    #[allow(clippy::useless_conversion)]
                    let band = i64::from(head.band);
                    return Ok(Some(PollSignal {
                        fd: head.fd,
                        code: head.code,
                        band,
                    }));
                }
                Err(Errno::EAGAIN) => return Ok(None),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
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
