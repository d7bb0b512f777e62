//! Processes: a forked child that runs a closure, leaving at once, and the
//! alarm that ends a run which hangs, after a report of where it hung.

use std::io;
use std::sync::atomic::{AtomicPtr, Ordering};

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

/// Ends the process now with `code`: no exit-time handlers, no flushing
/// (flush what must be seen first).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) has no preconditions.
    unsafe { libc::_exit(code) }
}

/// The case the watchdog watches, for its bail-out line, behind one
/// pointer, so that a handler (on any thread) reads the name whole without
/// a lock. Each arming leaks the 16-byte box it points to: the old one may
/// be in use by a handler that has just run, and a run arms a few dozen.
static WATCHED_CASE: AtomicPtr<&'static str> = AtomicPtr::new(std::ptr::null_mut());

/// How long the report may take before its own alarm ends it.
const REPORT_SECONDS: libc::c_uint = 30;

/// The watchdog: runs `asyncn-test hang-report` in a child (this program
/// again, through `/proc/self/exe`) and waits for it, then writes a TAP
/// bail-out naming the case and ends the process.
extern "C" fn on_alarm(_: libc::c_int) {
    // Only async-signal-safe calls from here on (fork, alarm, execv,
    // waitpid, writev, _exit): the program was interrupted anywhere.
    // SAFETY: fork(2) is async-signal-safe; the child calls only alarm(2),
    // execv(3) (execve(2) with the process's environment) and _exit(2).
    match unsafe { libc::fork() } {
        0 => {
            let argv = [
                c"asyncn-test".as_ptr(),
                c"hang-report".as_ptr(),
                std::ptr::null(),
            ];
            // SAFETY: alarm has no preconditions; a pending alarm survives
            // the exec, and its default action ends a report that hangs.
            // `argv` is a null-terminated array of C strings that live for
            // the whole program.
            unsafe {
                libc::alarm(REPORT_SECONDS);
                libc::execv(c"/proc/self/exe".as_ptr(), argv.as_ptr());
            }
            exit_now(127);
        }
        -1 => {}
        child => loop {
            // SAFETY: a null status pointer is allowed.
            let waited = unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
            if waited != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        },
    }
    let case = WATCHED_CASE.load(Ordering::Acquire);
    let parts: [&[u8]; 3] = [
        b"Bail out! case ",
        // SAFETY: a non-null pointer comes from `Box::leak`, which is never
        // freed, and was published with release ordering.
        unsafe { case.as_ref() }.map_or(b"?", |name| name.as_bytes()),
        b" did not finish in time (watchdog; where its processes were is above)\n",
    ];
    let iov = parts.map(|part| libc::iovec {
        iov_base: part.as_ptr() as *mut libc::c_void,
        iov_len: part.len(),
    });
    // SAFETY: the iovecs point at live byte slices; writev(2) makes one
    // system call, so the line is not split by another writer.
    unsafe { libc::writev(1, iov.as_ptr(), iov.len() as libc::c_int) };
    exit_now(1);
}

/// From now on `SIGALRM` reports where the program's processes are and
/// ends the process with status 1 after a TAP `Bail out!` line naming
/// `case`.
pub fn report_and_bail_out_on_alarm(case: &'static str) {
    WATCHED_CASE.store(Box::leak(Box::new(case)), Ordering::Release);
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
