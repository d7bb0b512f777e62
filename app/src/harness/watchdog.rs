//! The watchdog: a process of its own, forked at start-up, that ends a case
//! which hangs. Being another process, it reports where the program is
//! while the program is still blocked there (a signal would first pull an
//! interruptible call out of its wait, and never reach a task stuck in
//! uninterruptible sleep), and it needs no async-signal-safe code.
//!
//! The program tells it, over a pipe, each case's name and how long it may
//! run. When a case runs out, the watchdog asks the kernel for its blocked
//! tasks (with `--deadline`, as root), prints the report of [`super::hang`]
//! (in a child of its own, so that a report that blocks cannot stop the
//! rest), prints the TAP `Bail out!` line, and ends the program with
//! `SIGALRM`, which the program turns into exit status 1.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getppid, Pid};

use crate::sys::process::{exit_now, exit_on_alarm_signal, fork_running};

/// The pipe to the watchdog process, once started.
static PIPE: OnceLock<File> = OnceLock::new();

/// The case being watched, for a watchdog extended from inside it.
static CASE: Mutex<&str> = Mutex::new("");

/// How long the report may take before the watchdog gives up on it.
const REPORT_LIMIT: Duration = Duration::from_secs(10);

/// How long the program may take to end once told to.
const EXIT_LIMIT: Duration = Duration::from_secs(5);

/// Starts the watchdog process. Call it first thing in `main`: it forks,
/// which needs a process with one thread. `sysrq`: the watchdog asks the
/// kernel for its blocked tasks too (SysRq w on the console).
pub fn start(sysrq: bool) -> io::Result<()> {
    let (rx, tx) = nix::unistd::pipe()?;
    let tx_fd = tx.as_raw_fd();
    let parent = nix::unistd::getpid();
    fork_running(move || {
        // The watchdog dies with the program, and holds no write end: the
        // pipe's end means that the program and its workers have gone.
        if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() || getppid() != parent {
            return 1;
        }
        let _ = nix::unistd::close(tx_fd);
        watch(rx, parent, sysrq)
    })?;
    exit_on_alarm_signal();
    let _ = PIPE.set(File::from(tx));
    Ok(())
}

/// Watches `case` for `seconds` from now (0: stops watching). `by_deadline`:
/// `--deadline` cut the case's own limit to that. Without a watchdog
/// process (unit tests), nothing.
pub(super) fn arm(case: Option<&'static str>, seconds: u32, by_deadline: bool) {
    let Some(mut pipe) = PIPE.get() else {
        return;
    };
    let mut current = CASE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(case) = case {
        *current = case;
    }
    // One write of a short line: the watchdog reads it whole.
    let _ =
        pipe.write_all(format!("{seconds} {} {}\n", u8::from(by_deadline), *current).as_bytes());
}

/// What `asyncn-test hang-self-test` does: blocks for ever in a read, with
/// a child blocked in a read too, for the watchdog to find. Returns only
/// the error that kept it from blocking.
pub fn hang_for_ever() -> io::Error {
    // Nobody writes to `_tx`, which stays open here: the reads never end.
    let (rx, _tx) = match nix::unistd::pipe() {
        Ok(pipe) => pipe,
        Err(e) => return e.into(),
    };
    let mut rx = File::from(rx);
    let parent = nix::unistd::getpid();
    let child = fork_running(|| {
        if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() || getppid() != parent {
            return 1;
        }
        let _ = rx.read(&mut [0u8; 1]);
        0
    });
    if let Err(e) = child {
        return e;
    }
    match rx.read(&mut [0u8; 1]) {
        Ok(n) => io::Error::other(format!("the read ended ({n} bytes)")),
        Err(e) => e,
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
        if let Some((at, watched)) = &armed {
            if now >= *at {
                fire(program, watched, sysrq);
                return 0;
            }
        }
        let wait = armed.as_ref().map_or(Duration::from_secs(1), |(at, _)| {
            at.saturating_duration_since(now)
                .min(Duration::from_secs(1))
        });
        let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(rx.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => return 1,
        }
        let mut chunk = [0u8; 512];
        match rx.read(&mut chunk) {
            Ok(0) | Err(_) => return 0,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if let Some(watched) = parse(String::from_utf8_lossy(&line).trim_end()) {
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

/// A case ran out: the kernel's blocked tasks, the report, the bail-out,
/// and the end of `program`.
fn fire(program: Pid, watched: &Watch, sysrq: bool) {
    let limit = if watched.by_deadline {
        "its time before --deadline"
    } else {
        "its time"
    };
    println!(
        "# watchdog: case {} still runs after {} s ({limit}); where everything is:",
        watched.case, watched.seconds
    );
    // The kernel's lines first: console output interleaves with ours.
    if sysrq {
        super::hang::sysrq_blocked_tasks();
    }
    let _ = io::stdout().flush();
    let watchdog = nix::unistd::getpid();
    match fork_running(move || {
        super::hang::report(program, &[watchdog, nix::unistd::getpid()]);
        let _ = io::stdout().flush();
        0
    }) {
        Ok(reporter) => {
            if !reaped(reporter, REPORT_LIMIT) {
                let _ = kill(reporter, Signal::SIGKILL);
                let _ = waitpid(reporter, None);
                println!(
                    "# watchdog: the report did not finish in {} s",
                    REPORT_LIMIT.as_secs()
                );
            }
        }
        Err(e) => println!("# watchdog: no report ({e})"),
    }
    println!(
        "Bail out! case {} did not finish in {} s ({limit}; watchdog)",
        watched.case, watched.seconds
    );
    let _ = io::stdout().flush();
    let _ = kill(program, Signal::SIGALRM);
    let deadline = Instant::now() + EXIT_LIMIT;
    while getppid() == program && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if getppid() == program {
        // Stuck where a signal cannot reach it (uninterruptible sleep):
        // the report above says where.
        eprintln!(
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
