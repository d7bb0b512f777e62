//! Test Anything Protocol output: one line per check, a summary at the end.

use std::fmt::Display;

use super::timeouts::{arm_watchdog, CASE_TIMEOUT_SECS};

#[derive(Default)]
pub struct Tap {
    passed: usize,
    failed: usize,
    skipped: usize,
    case: &'static str,
    /// `--skips-allowed`: the only cases that may skip; any when `None`.
    skips_allowed: Option<Vec<String>>,
}

impl Tap {
    pub fn begin() -> Self {
        println!("TAP version 14");
        Self::default()
    }

    /// Names the case the following checks belong to, and arms a watchdog:
    /// a case still running after `CASE_TIMEOUT_SECS` (times
    /// `--timeout-scale`), or at `--deadline`, ends the program with a
    /// report of where its processes are and a TAP "Bail out!" instead of
    /// hanging the target.
    pub fn case(&mut self, name: &'static str) {
        self.case_with_timeout(name, CASE_TIMEOUT_SECS);
    }

    /// Like [`Tap::case`], for a case that runs `seconds` by design (times
    /// `--timeout-scale` too).
    pub fn case_with_timeout(&mut self, name: &'static str, seconds: u32) {
        self.case = name;
        // Armed first: a watchdog that fires names the case printed last.
        arm_watchdog(name, seconds);
        println!("# case {name}");
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
        let allowed = self
            .skips_allowed
            .as_ref()
            .is_none_or(|cases| cases.iter().any(|c| c == self.case));
        if !allowed {
            // The target should have run it: a failure, not a skip.
            self.check(
                false,
                format!("{what}: skipped ({reason}), which --skips-allowed does not allow for this case"),
            );
            return;
        }
        self.skipped += 1;
        let n = self.passed + self.failed + self.skipped;
        println!("ok {n} - {}: {what} # SKIP {reason}", self.case);
    }

    /// Only `cases` may skip from now on; a skip elsewhere fails.
    pub fn allow_skips_only_in(&mut self, cases: Vec<String>) {
        self.skips_allowed = Some(cases);
    }

    /// A diagnostic line, not a check.
    pub fn note(&self, text: impl Display) {
        println!("# {text}");
    }

    /// Prints the plan and the summary line; true when nothing failed.
    pub fn finish(&self) -> bool {
        // No bail-out after the summary.
        super::watchdog::stop();
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

/// Prints one line as a TAP diagnostic (`# ...`) on standard output, where
/// the test points are, in one `write(2)` so that lines from concurrent
/// processes do not interleave. What this process has buffered goes first.
pub fn report(line: String) {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let line = format!("# {}\n", line.replace('\n', "\n# "));
    let _ = nix::unistd::write(std::io::stdout(), line.as_bytes());
}
