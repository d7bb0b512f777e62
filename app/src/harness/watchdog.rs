//! The watchdog: a process of its own, forked at start-up, that ends a case
//! which hangs. Being another process, it reports where the program is
//! while the program is still blocked there (a signal would first pull an
//! interruptible call out of its wait, and never reach a task stuck in
//! uninterruptible sleep), and it needs no async-signal-safe code.
//!
//! The program tells it, over a pipe, each case's name and how long it may
//! run, and that it is done ([`stop`], before the summary). When a case
//! runs out, the watchdog has a child of its own (so that what blocks
//! cannot stop the rest) ask the kernel for its blocked tasks (with
//! `--sysrq-on-hang`, as root) and print the report of [`super::hang`];
//! then it prints the TAP `Bail out!` line and ends the program with
//! `SIGALRM`, which the program turns into exit status 1.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpid, getppid, Pid};

use crate::sys::process::{die_with_parent, exit_now, exit_on_alarm_signal, fork_running};

/// The watchdog process, once started: the pipe to it, its pid, and the
/// program's pid (a forked worker inherits the pipe, and must not use it).
struct Started {
    pipe: File,
    watchdog: Pid,
    program: Pid,
}

static STARTED: OnceLock<Started> = OnceLock::new();

/// The case being watched, for a watchdog extended from inside it.
static CASE: Mutex<&str> = Mutex::new("");

/// How long the kernel's list and the report may take before the watchdog
/// gives up on them.
const REPORT_LIMIT: Duration = Duration::from_secs(10);

/// How long the program may take to end once told to.
const EXIT_LIMIT: Duration = Duration::from_secs(5);

/// Starts the watchdog process, before any case: it forks, which needs a
/// process with one thread. `sysrq`: the watchdog asks the kernel for its
/// blocked tasks too (SysRq w on the console).
pub fn start(sysrq: bool) -> io::Result<()> {
    // Not inherited by what the program runs (udevadm): only forks hold it.
    let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let tx_fd = tx.as_raw_fd();
    let program = getpid();
    // Whatever is buffered would otherwise be printed twice.
    io::stdout().flush()?;
    let watchdog = fork_running(move || {
        // The watchdog dies with the program, and holds no write end.
        if !die_with_parent(program) {
            return 1;
        }
        let _ = nix::unistd::close(tx_fd);
        watch(rx, program, sysrq)
    })?;
    exit_on_alarm_signal(watchdog);
    let _ = STARTED.set(Started {
        pipe: File::from(tx),
        watchdog,
        program,
    });
    Ok(())
}

/// Ends the watching, before the run's summary: the watchdog process ends,
/// and has ended when this returns (or, if it had already found a case out
/// of time, it ends the program meanwhile, its bail-out the last line).
pub fn stop() {
    let Some(started) = STARTED.get().filter(|s| s.program == getpid()) else {
        return;
    };
    let _ = (&started.pipe).write_all(b"exit\n");
    let _ = waitpid(started.watchdog, None);
}

/// Watches `case` (or the case being watched) for `seconds` from now.
/// `by_deadline`: `--deadline` cut the case's own limit to that. Without a
/// watchdog process (unit tests), and in a forked worker, nothing.
pub(super) fn arm(case: Option<&'static str>, seconds: u32, by_deadline: bool) {
    let Some(started) = STARTED.get().filter(|s| s.program == getpid()) else {
        return;
    };
    let mut current = CASE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(case) = case {
        *current = case;
    }
    // One write of a short line: the watchdog reads it whole.
    let line = format!("{seconds} {} {}\n", u8::from(by_deadline), *current);
    if let Err(e) = (&started.pipe).write_all(line.as_bytes()) {
        eprintln!(
            "asyncn-test: the watchdog is gone ({e}): case {} runs unwatched",
            *current
        );
    }
}

/// What `asyncn-test hang-self-test` does: blocks in a read, with a child
/// blocked in a read too, for the watchdog to find; for ever, or until
/// `return_after`. The error that kept it from blocking, if any.
pub fn hang(return_after: Option<Duration>) -> io::Result<()> {
    // Nobody writes to `_tx`, which stays open here: the reads never end.
    let (rx, _tx) = nix::unistd::pipe()?;
    let mut rx = File::from(rx);
    let parent = getpid();
    let child = fork_running(|| {
        if !die_with_parent(parent) {
            return 1;
        }
        let _ = rx.read(&mut [0u8; 1]);
        0
    })?;
    if let Some(after) = return_after {
        let mut fds = [PollFd::new(rx.as_fd(), PollFlags::POLLIN)];
        poll(
            &mut fds,
            PollTimeout::try_from(after).unwrap_or(PollTimeout::MAX),
        )?;
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Ok(());
    }
    match rx.read(&mut [0u8; 1]) {
        Ok(n) => Err(io::Error::other(format!("the read ended ({n} bytes)"))),
        Err(e) => Err(e),
    }
}

/// What the program last asked for: a case, how long it may run, and
/// whether `--deadline` set that.
#[derive(Debug, PartialEq)]
struct Watch {
    case: String,
    seconds: u32,
    by_deadline: bool,
}

/// Parses one line of the pipe's protocol: "SECONDS BY_DEADLINE CASE".
fn parse(line: &str) -> Option<Watch> {
    let mut words = line.splitn(3, ' ');
    let seconds = words.next()?.parse().ok()?;
    let by_deadline = words.next()? == "1";
    let case = words.next()?.to_owned();
    Some(Watch {
        case,
        seconds,
        by_deadline,
    })
}

/// The watchdog process's loop; its exit status.
fn watch(rx: OwnedFd, program: Pid, sysrq: bool) -> i32 {
    let mut rx = File::from(rx);
    let mut pending = Vec::new();
    let mut armed: Option<(Instant, Watch)> = None;
    loop {
        // Reparented: the program has ended.
        if getppid() != program {
            return 0;
        }
        let now = Instant::now();
        let expired = armed.as_ref().is_some_and(|(at, _)| now >= *at);
        // An expired case fires only if the program has not moved on: what
        // it wrote meanwhile is read first (a poll that does not wait).
        let wait = armed.as_ref().map_or(Duration::from_secs(1), |(at, _)| {
            at.saturating_duration_since(now)
                .min(Duration::from_secs(1))
        });
        let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(rx.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => {
                if let Some((_, watched)) = armed.as_ref().filter(|_| expired) {
                    fire(program, watched, sysrq);
                }
                continue;
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 1,
        }
        let mut chunk = [0u8; 512];
        match rx.read(&mut chunk) {
            Ok(0) | Err(_) => return 0,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end();
            if line == "exit" {
                return 0;
            }
            if let Some(watched) = parse(line) {
                armed = (watched.seconds > 0).then(|| {
                    (
                        Instant::now() + Duration::from_secs(watched.seconds.into()),
                        watched,
                    )
                });
            }
        }
    }
}

/// Writes `line` to standard output; what printing does (a closed pipe)
/// must not keep the watchdog from ending the program.
fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A case ran out: the kernel's blocked tasks and the report, from a child
/// given [`REPORT_LIMIT`]; the bail-out; the end of `program`.
fn fire(program: Pid, watched: &Watch, sysrq: bool) -> ! {
    let limit = if watched.by_deadline {
        "its time before --deadline"
    } else {
        "its time"
    };
    say(&format!(
        "# watchdog: case {} still runs after {} s ({limit}); where everything is:",
        watched.case, watched.seconds
    ));
    let watchdog = getpid();
    let reporter = fork_running(move || {
        if !die_with_parent(watchdog) {
            return 1;
        }
        // The kernel's lines first: console output interleaves with ours.
        if sysrq {
            super::hang::sysrq_blocked_tasks();
        }
        super::hang::report(program, &[watchdog, getpid()]);
        let _ = io::stdout().flush();
        0
    });
    match reporter {
        Ok(reporter) => {
            if !reaped(reporter, REPORT_LIMIT) {
                let _ = kill(reporter, Signal::SIGKILL);
                let _ = waitpid(reporter, None);
                say(&format!(
                    "# watchdog: the report did not finish in {} s",
                    REPORT_LIMIT.as_secs()
                ));
            }
        }
        Err(e) => say(&format!("# watchdog: no report ({e})")),
    }
    say(&format!(
        "Bail out! case {} did not finish in {} s ({limit}; watchdog)",
        watched.case, watched.seconds
    ));
    let _ = kill(program, Signal::SIGALRM);
    let deadline = Instant::now() + EXIT_LIMIT;
    while getppid() == program && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if getppid() == program {
        // Stuck where a signal cannot reach it (uninterruptible sleep):
        // the report above says where.
        let _ = writeln!(
            io::stderr(),
            "asyncn-test watchdog: the program did not end in {} s; SIGKILL",
            EXIT_LIMIT.as_secs()
        );
        let _ = kill(program, Signal::SIGKILL);
    }
    exit_now(0);
}

/// Whether child `pid` ended within `limit`.
fn reaped(pid: Pid, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(WaitStatus::StillAlive) => return false,
            _ => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lines_parse() {
        assert_eq!(
            parse("60 0 load-cycle"),
            Some(Watch {
                case: "load-cycle".into(),
                seconds: 60,
                by_deadline: false
            })
        );
        assert_eq!(
            parse("12 1 stress"),
            Some(Watch {
                case: "stress".into(),
                seconds: 12,
                by_deadline: true
            })
        );
        assert_eq!(
            parse("0 0 "),
            Some(Watch {
                case: String::new(),
                seconds: 0,
                by_deadline: false
            })
        );
        assert_eq!(parse("x 0 a"), None);
        assert_eq!(parse("5"), None);
    }
}
