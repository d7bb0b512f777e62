//! Timeouts: how long a case waits for what should happen at once, and how
//! long the watchdog ([`super::watchdog`]) lets a case run. Both scale with
//! `--timeout-scale`; the watchdog fires by `--deadline` at the latest.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// `--timeout-scale`: how much longer than on the emulated reference
/// target every wait and watchdog may take (a slow board).
static TIMEOUT_SCALE: AtomicU32 = AtomicU32::new(1);

/// `--deadline`: the system uptime (`CLOCK_BOOTTIME`, seconds) by which
/// every watchdog fires; 0 for none.
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
    let (seconds, by_deadline) = watchdog_alarm(seconds);
    super::watchdog::arm(None, seconds, by_deadline);
}

/// Has the watchdog end the program, with a report of where everything is
/// and a TAP `Bail out!`, if case `name` still runs `seconds` (times
/// `--timeout-scale`) from now, or at `--deadline` if that comes first.
pub(super) fn arm_watchdog(name: &'static str, seconds: u32) {
    // Flush first: the watchdog's lines must come after the case's.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let (seconds, by_deadline) = watchdog_alarm(seconds);
    super::watchdog::arm(Some(name), seconds, by_deadline);
}

/// A watchdog of `seconds`, in seconds from now, and whether `--deadline`
/// cut it.
fn watchdog_alarm(seconds: u32) -> (u32, bool) {
    let wanted = seconds.saturating_mul(timeout_scale());
    let deadline = DEADLINE.load(Ordering::Relaxed);
    match uptime_seconds() {
        Some(now) if deadline != 0 => {
            let cut = watchdog_seconds(wanted, deadline, now);
            (cut, cut < wanted)
        }
        // No deadline, or no clock to measure it by: the case's own limit.
        _ => (wanted, false),
    }
}

/// The system's uptime in whole seconds (`CLOCK_BOOTTIME`, the clock of
/// `/proc/uptime`, which a caller outside the program can compute a
/// deadline in).
fn uptime_seconds() -> Option<u64> {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).ok()?;
    u64::try_from(ts.tv_sec()).ok()
}

/// A watchdog of `wanted` seconds armed at uptime `now`, cut to what is
/// left before `deadline`, and at least 1 s (0 would stop the watchdog)
/// when the deadline has passed.
fn watchdog_seconds(wanted: u32, deadline: u64, now: u64) -> u32 {
    let left = u32::try_from(deadline.saturating_sub(now)).unwrap_or(u32::MAX);
    wanted.min(left).max(1)
}

#[cfg(test)]
mod tests {
    use super::watchdog_seconds;

    #[test]
    fn the_deadline_cuts_a_watchdog_and_never_stops_it() {
        assert_eq!(
            watchdog_seconds(120, 400, 100),
            120,
            "well before the deadline"
        );
        assert_eq!(watchdog_seconds(1200, 400, 100), 300, "cut to the deadline");
        assert_eq!(watchdog_seconds(600, 400, 400), 1, "at the deadline");
        assert_eq!(watchdog_seconds(600, 400, 900), 1, "past the deadline");
    }
}
