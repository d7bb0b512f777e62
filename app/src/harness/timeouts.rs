//! Timeouts: how long a case waits for what should happen at once, and the
//! watchdog that ends a case that hangs. Both scale with `--timeout-scale`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// `--timeout-scale`: how much longer than on the emulated reference
/// target every wait and watchdog may take (a slow board).
static TIMEOUT_SCALE: AtomicU32 = AtomicU32::new(1);

/// Sets `--timeout-scale` (at least 1), once, before any case runs.
pub fn set_timeout_scale(scale: u32) {
    TIMEOUT_SCALE.store(scale.max(1), Ordering::Relaxed);
}

pub fn timeout_scale() -> u32 {
    TIMEOUT_SCALE.load(Ordering::Relaxed)
}

/// How long a case waits for what should happen at once (a signal, a
/// child's answer, a node): 5 s times `--timeout-scale`.
pub fn wait() -> Duration {
    Duration::from_secs(5) * timeout_scale()
}

/// Longest a case may run.
pub const CASE_TIMEOUT_SECS: u32 = 60;

/// Gives the running case `seconds` from now instead.
pub fn extend_watchdog(seconds: u32) {
    crate::sys::process::alarm_in(seconds.saturating_mul(timeout_scale()));
}

/// Ends the program with a TAP `Bail out!` if the case is still running
/// `seconds` (times `--timeout-scale`) from now.
pub(super) fn arm_watchdog(seconds: u32) {
    // Flush first: the bail-out bypasses Rust's stdout buffer.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    crate::sys::process::bail_out_on_alarm();
    crate::sys::process::alarm_in(seconds.saturating_mul(timeout_scale()));
}
