//! Child processes for the multi-process cases, and pipes between them.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult, Pid};

/// Runs `body` in a child process; its return value is the exit status.
pub fn spawn(body: impl FnOnce() -> i32) -> io::Result<Pid> {
    // Whatever is buffered would otherwise be printed twice.
    io::stdout().flush()?;
    io::stderr().flush()?;
    let parent = nix::unistd::getpid();
    // SAFETY: the program is single-threaded when it forks, so the child
    // may run arbitrary code.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            if !die_with_parent(parent) {
                // SAFETY: as below.
                unsafe { libc::_exit(1) }
            }
            let code = body();
            let _ = io::stdout().flush();
            // SAFETY: leaves the child without running the parent's
            // exit-time handlers a second time.
            unsafe { libc::_exit(code) }
        }
    }
}

/// Asks the kernel to kill this process when its parent, `parent`, ends
/// (Ctrl-C, a watchdog's `Bail out!`, a crash): no child outlives the test
/// program. False when that cannot be asked, or `parent` has already ended.
/// A change of user clears the request: ask again after one.
pub fn die_with_parent(parent: Pid) -> bool {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_ok() && nix::unistd::getppid() == parent
}

/// Waits for `pid` until `timeout`; a child still running then is killed.
/// Returns its exit code, or `None` when it was killed or died by a signal.
pub fn reap(pid: Pid, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Some(code),
            Ok(WaitStatus::Signaled(..)) | Err(_) => return None,
            Ok(_) if Instant::now() >= deadline => {
                // Where it is stuck, for the report: the kernel's view of
                // the blocked task (the stack needs root, as in the guest).
                let proc_file = |name: &str| {
                    std::fs::read_to_string(format!("/proc/{pid}/{name}"))
                        .map(|s| s.trim().replace('\n', " | "))
                        .unwrap_or_else(|e| format!("({e})"))
                };
                crate::tap::report(format!(
                    "process {pid} still running after {} ms; killing it. wchan: {}; syscall: {}; stack: {}",
                    timeout.as_millis(),
                    proc_file("wchan"),
                    proc_file("syscall"),
                    proc_file("stack"),
                ));
                let _ = kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
                return None;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// A one-way byte channel between processes.
pub struct Channel {
    read: File,
    write: File,
}

impl Channel {
    pub fn new() -> io::Result<Self> {
        let (read, write): (OwnedFd, OwnedFd) = pipe()?;
        Ok(Self {
            read: read.into(),
            write: write.into(),
        })
    }

    /// A copy of the sending end, for a child process.
    pub fn write_end(&self) -> io::Result<File> {
        self.write.try_clone()
    }

    /// A copy of the receiving end, for a child process.
    pub fn read_end(&self) -> io::Result<File> {
        self.read.try_clone()
    }

    /// The receiving end (the sending end is dropped).
    pub fn receiver(self) -> File {
        self.read
    }
}

/// Reads exactly `buf.len()` bytes from `file` within `timeout`.
pub fn read_timeout(file: &mut File, buf: &mut [u8], timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        if left.is_zero() || poll(&mut fds, PollTimeout::from(ms))? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer did not answer in time",
            ));
        }
        match file.read(&mut buf[filled..])? {
            0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer exited")),
            n => filled += n,
        }
    }
    Ok(())
}
