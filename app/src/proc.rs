//! Child processes for the multi-process cases, and pipes between them.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe, Pid};

use crate::sys::process::die_with_parent;

/// Runs `body` in a child process; its return value is the exit status.
/// The child dies with this process (see [`die_with_parent`]).
pub fn spawn(body: impl FnOnce() -> i32) -> io::Result<Pid> {
    // Whatever is buffered would otherwise be printed twice.
    io::stdout().flush()?;
    io::stderr().flush()?;
    let parent = nix::unistd::getpid();
    crate::sys::process::fork_running(move || {
        if !die_with_parent(parent) {
            return 1;
        }
        let code = body();
        let _ = io::stdout().flush();
        code
    })
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
                crate::harness::tap::report(format!(
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

/// How a worker ended when it was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// By the `SIGKILL`.
    Killed,
    /// By itself, cleanly, just before.
    Exited,
    /// Otherwise (reported).
    Unexpectedly,
}

/// The worker processes of a run (stress, fuzz, bench): started with
/// [`spawn`] (so none outlives this process), replaced, killed or stopped
/// here. Every end that is not a clean exit, a kill of ours or a stop, is
/// reported as a TAP diagnostic naming the run. Workers still running when
/// this is dropped are killed.
pub struct Workers {
    run: &'static str,
    /// The worker of each slot, and whether it may still run (false once
    /// it was reaped: its pid may belong to another process by then).
    pids: Vec<Pid>,
    running: Vec<bool>,
}

impl Workers {
    pub fn new(run: &'static str) -> Self {
        Self {
            run,
            pids: Vec::new(),
            running: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.pids.len()
    }

    /// Starts one more worker running `body`.
    pub fn start(&mut self, body: impl FnOnce() -> i32) -> io::Result<()> {
        self.pids.push(spawn(body)?);
        self.running.push(true);
        Ok(())
    }

    /// Starts `body` in slot `i`, whose worker has ended.
    pub fn restart(&mut self, i: usize, body: impl FnOnce() -> i32) -> io::Result<()> {
        assert!(!self.running[i], "worker slot {i} is still running");
        self.pids[i] = spawn(body)?;
        self.running[i] = true;
        Ok(())
    }

    fn report(&self, pid: Pid, what: impl std::fmt::Debug) {
        crate::harness::tap::report(format!(
            "{}: worker {pid} ended unexpectedly: {what:?}",
            self.run
        ));
    }

    /// Kills the worker of slot `i` with `SIGKILL` and reaps it.
    pub fn kill(&mut self, i: usize) -> Ended {
        assert!(
            std::mem::replace(&mut self.running[i], false),
            "worker slot {i} is not running"
        );
        let pid = self.pids[i];
        let _ = kill(pid, Signal::SIGKILL);
        match waitpid(pid, None) {
            Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _)) => Ended::Killed,
            Ok(WaitStatus::Exited(_, 0)) => Ended::Exited,
            other => {
                self.report(pid, other);
                Ended::Unexpectedly
            }
        }
    }

    /// The slots whose workers have ended by themselves since the last
    /// look (reaped now), each with whether it exited cleanly (the others
    /// are reported).
    pub fn ended(&mut self) -> Vec<(usize, bool)> {
        let mut ended = Vec::new();
        for i in 0..self.pids.len() {
            if !self.running[i] {
                continue;
            }
            let pid = self.pids[i];
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => continue,
                Ok(WaitStatus::Exited(_, 0)) => ended.push((i, true)),
                other => {
                    self.report(pid, other);
                    ended.push((i, false));
                }
            }
            self.running[i] = false;
        }
        ended
    }

    /// The pids of the workers that may still run: not yet reaped (a
    /// reaped worker's pid may belong to another process by then).
    pub fn running(&self) -> impl Iterator<Item = Pid> + '_ {
        self.pids
            .iter()
            .zip(&self.running)
            .filter(|(_, &running)| running)
            .map(|(&pid, _)| pid)
    }

    /// Tells every worker to stop (`stop`, which they poll, set to 1) and
    /// waits for each up to `timeout`; one still running is killed. Returns
    /// how many ended cleanly; the others are reported with where they were
    /// stuck.
    pub fn stop(mut self, stop: &std::sync::atomic::AtomicU32, timeout: Duration) -> usize {
        stop.store(1, std::sync::atomic::Ordering::SeqCst);
        let mut clean = 0;
        let running: Vec<Pid> = self.running().collect();
        self.running.iter_mut().for_each(|r| *r = false);
        for pid in running {
            match reap(pid, timeout) {
                Some(0) => clean += 1,
                other => crate::harness::tap::report(format!(
                    "{}: worker {pid} did not stop cleanly: {other:?}",
                    self.run
                )),
            }
        }
        clean
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let running: Vec<Pid> = self.running().collect();
        for &pid in &running {
            let _ = kill(pid, Signal::SIGKILL);
        }
        for pid in running {
            let _ = waitpid(pid, None);
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

/// Whether task `pid` (a process or a thread) is asleep: state S in
/// `/proc/<pid>/stat`.
pub fn sleeping(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // "pid (comm) S ...": the state follows the last ')'.
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().next().map(|state| state == "S")
        })
        .unwrap_or(false)
}

/// Waits up to `timeout` for task `pid` to be asleep; whether it is.
pub fn wait_until_sleeping(pid: Pid, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if sleeping(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The threads of this process (io_uring's workers included) whose kernel
/// stack runs through `module` (a `[module]` frame in
/// `/proc/self/task/<tid>/stack`), as "tid (comm)"; an error when no stack
/// can be read (no `CONFIG_STACKTRACE`, not root).
pub fn threads_in_module(module: &str) -> io::Result<Vec<String>> {
    let marker = format!("[{module}]");
    let mut found = Vec::new();
    let mut readable = 0;
    for entry in std::fs::read_dir("/proc/self/task")? {
        let dir = entry?.path();
        let Ok(stack) = std::fs::read_to_string(dir.join("stack")) else {
            continue;
        };
        readable += 1;
        if stack.contains(&marker) {
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            let tid = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            found.push(format!("{} ({})", tid.unwrap_or_default(), comm.trim()));
        }
    }
    if readable == 0 {
        return Err(io::Error::other("no /proc/self/task/*/stack is readable"));
    }
    Ok(found)
}
