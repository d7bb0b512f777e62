//! Timeouts: how long a case waits for what should happen at once, and the
//! watchdog that ends a case that hangs. Both scale with `--timeout-scale`;
//! the watchdog never outlives `--deadline`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// `--timeout-scale`: how much longer than on the emulated reference
/// target every wait and watchdog may take (a slow board).
static TIMEOUT_SCALE: AtomicU32 = AtomicU32::new(1);

/// `--deadline`: the system uptime (`CLOCK_BOOTTIME`, seconds) by which
/// the program must have ended; 0 for none.
static DEADLINE: AtomicU64 = AtomicU64::new(0);

/// Sets `--timeout-scale` (at least 1), once, before any case runs.
pub fn set_timeout_scale(scale: u32) {
    TIMEOUT_SCALE.store(scale.max(1), Ordering::Relaxed);
}

pub fn timeout_scale() -> u32 {
    TIMEOUT_SCALE.load(Ordering::Relaxed)
}

/// Sets `--deadline`, once, before any case runs.
pub fn set_deadline(uptime_seconds: u64) {
    DEADLINE.store(uptime_seconds, Ordering::Relaxed);
}

/// How long a case waits for what should happen at once (a signal, a
/// child's answer, a node): 5 s times `--timeout-scale`.
pub fn wait() -> Duration {
    Duration::from_secs(5) * timeout_scale()
}

/// Longest a case may run.
pub const CASE_TIMEOUT_SECS: u32 = 60;

/// Gives the running case `seconds` (times `--timeout-scale`) from now
/// instead, but never past `--deadline`.
pub fn extend_watchdog(seconds: u32) {
    crate::sys::process::alarm_in(watchdog_alarm(seconds));
}

/// Ends the program with a report of where its processes are and a TAP
/// `Bail out!` if case `name` is still running `seconds` (times
/// `--timeout-scale`) from now, or at `--deadline` if that comes first.
pub(super) fn arm_watchdog(name: &'static str, seconds: u32) {
    // Flush first: the bail-out bypasses Rust's stdout buffer.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    crate::sys::process::report_and_bail_out_on_alarm(name);
    crate::sys::process::alarm_in(watchdog_alarm(seconds));
}

/// The alarm, in seconds from now, of a watchdog of `seconds`.
fn watchdog_alarm(seconds: u32) -> u32 {
    watchdog_seconds(
        seconds,
        timeout_scale(),
        DEADLINE.load(Ordering::Relaxed),
        uptime_seconds(),
    )
}

/// The system's uptime in whole seconds (`CLOCK_BOOTTIME`, the clock of
/// `/proc/uptime`, which a caller outside the program can compute a
/// deadline in); 0 if it cannot be read.
fn uptime_seconds() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map_or(0, |ts| u64::try_from(ts.tv_sec()).unwrap_or(0))
}

/// The alarm for a watchdog of `seconds` times `scale` armed at uptime
/// `now`: cut to what is left before `deadline` (0: none), and at least
/// 1 s (0 would cancel the alarm) when the deadline has passed.
fn watchdog_seconds(seconds: u32, scale: u32, deadline: u64, now: u64) -> u32 {
    let wanted = seconds.saturating_mul(scale);
    match deadline {
        0 => wanted,
        deadline => {
            let left = u32::try_from(deadline.saturating_sub(now)).unwrap_or(u32::MAX);
            wanted.min(left).max(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::watchdog_seconds;

    #[test]
    fn the_deadline_cuts_a_watchdog_and_never_cancels_it() {
        assert_eq!(watchdog_seconds(600, 2, 0, 100), 1200, "no deadline");
        assert_eq!(
            watchdog_seconds(60, 2, 400, 100),
            120,
            "well before the deadline"
        );
        assert_eq!(
            watchdog_seconds(600, 2, 400, 100),
            300,
            "cut to the deadline"
        );
        assert_eq!(watchdog_seconds(600, 1, 400, 400), 1, "at the deadline");
        assert_eq!(watchdog_seconds(600, 1, 400, 900), 1, "past the deadline");
    }
}
