//! Processes: a forked child that runs a closure, leaving at once, and the
//! alarm that ends a run which hangs.

use std::io;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{fork, ForkResult, Pid};

/// Forks a child that runs `child` and exits with what it returns (without
/// the parent's exit-time handlers); returns the child's pid. Refused
/// (`EDEADLK`) when the process has more than one thread: a child of a
/// threaded process may only make async-signal-safe calls, and `child`
/// could do anything.
pub fn fork_running(child: impl FnOnce() -> i32) -> io::Result<Pid> {
    if threads()? != 1 {
        return Err(io::Error::new(
            io::ErrorKind::Deadlock,
            "fork of a process with several threads",
        ));
    }
    // SAFETY: the process has one thread (checked above, and it starts none
    // meanwhile: this one is busy here), so the child may run any code.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => exit_now(child()),
    }
}

/// The threads of this process (`/proc/self/status`).
fn threads() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads: line in /proc/self/status"))
}

/// Ends the process now with `code`: no exit-time handlers, no flushing
/// (flush what must be seen first).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) has no preconditions.
    unsafe { libc::_exit(code) }
}

static BAIL_OUT_MESSAGE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static BAIL_OUT_LEN: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    let (ptr, len) = (
        BAIL_OUT_MESSAGE.load(Ordering::SeqCst),
        BAIL_OUT_LEN.load(Ordering::SeqCst),
    );
    if !ptr.is_null() {
        // SAFETY: `ptr` and `len` come from a `&'static [u8]`; write(2) is
        // async-signal-safe.
        unsafe { libc::write(1, ptr.cast(), len) };
    }
    exit_now(1);
}

/// From now on `SIGALRM` ends the process with status 1 after writing
/// `message` to standard output (one `write`, so it is async-signal-safe).
pub fn bail_out_on_alarm(message: &'static [u8]) {
    // Length first, pointer last: the handler uses the pair only once the
    // pointer is set (a shorter length with the new pointer is harmless).
    BAIL_OUT_LEN.store(0, Ordering::SeqCst);
    BAIL_OUT_MESSAGE.store(message.as_ptr().cast_mut(), Ordering::SeqCst);
    BAIL_OUT_LEN.store(message.len(), Ordering::SeqCst);
    let action = SigAction::new(
        SigHandler::Handler(on_alarm),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler makes async-signal-safe calls only.
    let _ = unsafe { sigaction(Signal::SIGALRM, &action) };
}

/// `SIGALRM` in `seconds` (0: none).
pub fn alarm_in(seconds: u32) {
    if seconds == 0 {
        nix::unistd::alarm::cancel();
    } else {
        nix::unistd::alarm::set(seconds);
    }
}
