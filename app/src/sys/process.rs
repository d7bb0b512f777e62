//! Processes: a forked child that runs a closure, leaving at once, and the
//! signal that ends a run whose case the watchdog reported as hung.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{fork, ForkResult, Pid};

/// Forks a child that runs `child` and exits with what it returns (101 if
/// it panics where panics unwind, as in tests; the release build aborts);
/// without the parent's exit-time handlers. Returns the child's pid. Refused when the process has more than one thread: a child
/// of a threaded process may only make async-signal-safe calls, and
/// `child` could do anything.
pub fn fork_running(child: impl FnOnce() -> i32) -> io::Result<Pid> {
    // Threads that are ending leave the count a little later: one just
    // joined (its exit is not over when the join returns), and glibc's
    // POSIX AIO helpers, which stay idle for a second after the last
    // request (`aio_idle_time`). Look again for a while.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while threads()? != 1 {
        if std::time::Instant::now() >= deadline {
            return Err(io::Error::other(format!(
                "fork refused: the process has threads besides this one ({})",
                thread_names()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // SAFETY: the process has one thread (checked above, and it starts none
    // meanwhile: this one is busy here), so the child may run any code.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child));
            exit_now(code.unwrap_or(101))
        }
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

/// The names of this process's threads, for an error message.
fn thread_names() -> String {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return "unknown".into();
    };
    tasks
        .flatten()
        .map(|t| {
            let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            format!("{} {}", t.file_name().to_string_lossy(), name.trim())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Asks the kernel to kill this process when its parent, `parent`, ends
/// (Ctrl-C, a watchdog's `Bail out!`, a crash): no child outlives the test
/// program. False when that cannot be asked, or `parent` has already ended.
/// A change of user clears the request: ask again after one.
pub fn die_with_parent(parent: Pid) -> bool {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_ok() && nix::unistd::getppid() == parent
}

/// Ends the process now with `code`: no exit-time handlers, no flushing
/// (flush what must be seen first).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) has no preconditions.
    unsafe { libc::_exit(code) }
}

/// The watchdog process, whose `SIGALRM` ends this one.
static WATCHDOG: AtomicI32 = AtomicI32::new(0);

extern "C" fn exit_on_alarm(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo_t;
    // si_pid is set for a signal sent by kill(2), and read as 0 otherwise.
    let sender = unsafe { (*info).si_pid() };
    if sender == WATCHDOG.load(Ordering::Relaxed) {
        exit_now(1);
    }
}

/// From now on a `SIGALRM` from `watchdog` ends the process with status 1
/// at once (the watchdog has printed the `Bail out!` line); any other
/// `SIGALRM` is ignored.
pub fn exit_on_alarm_signal(watchdog: Pid) {
    WATCHDOG.store(watchdog.as_raw(), Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::SigAction(exit_on_alarm),
        SaFlags::SA_SIGINFO,
        SigSet::empty(),
    );
    // SAFETY: the handler makes async-signal-safe calls only: an atomic
    // load and _exit(2).
    let _ = unsafe { sigaction(Signal::SIGALRM, &action) };
    // A caller may have started the program with it blocked.
    let _ = SigSet::from(Signal::SIGALRM).thread_unblock();
}
