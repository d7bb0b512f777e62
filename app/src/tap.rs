//! Test Anything Protocol output: one line per check, a summary at the end.

use std::fmt::Display;

#[derive(Default)]
pub struct Tap {
    passed: usize,
    failed: usize,
    case: &'static str,
}

impl Tap {
    pub fn begin() -> Self {
        println!("TAP version 14");
        Self::default()
    }

    /// Names the case the following checks belong to.
    pub fn case(&mut self, name: &'static str) {
        self.case = name;
        println!("# case {name}");
    }

    /// Records one check; returns `ok` so callers can stop early.
    pub fn check(&mut self, ok: bool, what: impl Display) -> bool {
        let n = self.passed + self.failed + 1;
        if ok {
            self.passed += 1;
            println!("ok {n} - {}: {what}", self.case);
        } else {
            self.failed += 1;
            println!("not ok {n} - {}: {what}", self.case);
        }
        ok
    }

    /// A diagnostic line, not a check.
    pub fn note(&self, text: impl Display) {
        println!("# {text}");
    }

    /// Prints the plan and the summary line; true when nothing failed.
    pub fn finish(&self) -> bool {
        println!("1..{}", self.passed + self.failed);
        println!("# {} passed, {} failed", self.passed, self.failed);
        self.failed == 0
    }
}
