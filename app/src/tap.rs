//! Test Anything Protocol output: one line per check, a summary at the end.

use std::fmt::Display;

#[derive(Default)]
pub struct Tap {
    passed: usize,
    failed: usize,
    skipped: usize,
    case: &'static str,
}

impl Tap {
    pub fn begin() -> Self {
        println!("TAP version 14");
        Self::default()
    }

    /// Names the case the following checks belong to, and arms a watchdog:
    /// a case still running after `CASE_TIMEOUT_SECS` ends the program with
    /// a TAP "Bail out!" instead of hanging the target.
    pub fn case(&mut self, name: &'static str) {
        self.case_with_timeout(name, CASE_TIMEOUT_SECS);
    }

    /// Like [`Tap::case`], for a case that runs `seconds` by design.
    pub fn case_with_timeout(&mut self, name: &'static str, seconds: u32) {
        self.case = name;
        println!("# case {name}");
        arm_watchdog(seconds);
    }

    /// Records one check; returns `ok` so callers can stop early.
    pub fn check(&mut self, ok: bool, what: impl Display) -> bool {
        let n = self.passed + self.failed + self.skipped + 1;
        if ok {
            self.passed += 1;
            println!("ok {n} - {}: {what}", self.case);
        } else {
            self.failed += 1;
            println!("not ok {n} - {}: {what}", self.case);
        }
        ok
    }

    /// A check that cannot run here, as a TAP 14 test point with its
    /// reason: it counts as neither passed nor failed.
    pub fn skip(&mut self, what: impl Display, reason: impl Display) {
        self.skipped += 1;
        let n = self.passed + self.failed + self.skipped;
        println!("ok {n} - {}: {what} # SKIP {reason}", self.case);
    }

    /// A diagnostic line, not a check.
    pub fn note(&self, text: impl Display) {
        println!("# {text}");
    }

    /// Prints the plan and the summary line; true when nothing failed.
    pub fn finish(&self) -> bool {
        println!("1..{}", self.passed + self.failed + self.skipped);
        if self.skipped > 0 {
            println!(
                "# {} passed, {} failed, {} skipped",
                self.passed, self.failed, self.skipped
            );
        } else {
            println!("# {} passed, {} failed", self.passed, self.failed);
        }
        self.failed == 0
    }
}

/// Longest a case may run.
pub const CASE_TIMEOUT_SECS: u32 = 60;

/// Prints one diagnostic line to stderr in a single write, so that lines
/// from concurrent processes do not interleave.
pub fn report(line: String) {
    let line = line + "\n";
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// Gives the running case `seconds` from now instead.
pub fn extend_watchdog(seconds: u32) {
    // SAFETY: alarm(2) has no memory-safety preconditions.
    unsafe { libc::alarm(seconds) };
}

extern "C" fn on_watchdog(_: libc::c_int) {
    const MESSAGE: &[u8] = b"Bail out! a case did not finish in time (watchdog)\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(1, MESSAGE.as_ptr().cast(), MESSAGE.len());
        libc::_exit(1);
    }
}

fn arm_watchdog(seconds: u32) {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(
        SigHandler::Handler(on_watchdog),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only calls async-signal-safe functions.
    let _ = unsafe { sigaction(Signal::SIGALRM, &action) };
    // Flush first: the handler bypasses Rust's stdout buffer.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: alarm(2) has no memory-safety preconditions.
    unsafe { libc::alarm(seconds) };
}
