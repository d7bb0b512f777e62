//! Counting `SIGIO` deliveries in a process.
//!
//! A handler counts signals; `SIGIO` stays blocked except while
//! [`SigioCounter::wait_beyond`] sleeps in `ppoll`, which unblocks it
//! atomically, so a signal is never lost between "check the count" and
//! "go to sleep".

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::ppoll;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::time::TimeSpec;

static SIGIO_COUNT: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_sigio(_: libc::c_int) {
    SIGIO_COUNT.fetch_add(1, Ordering::SeqCst);
}

/// The process-wide `SIGIO` counter. Create one per process.
pub struct SigioCounter {
    /// The mask to sleep with: the current one without `SIGIO`.
    sleep_mask: SigSet,
}

impl SigioCounter {
    /// Installs the handler and blocks `SIGIO` outside of waits.
    pub fn install() -> nix::Result<Self> {
        let action = SigAction::new(
            SigHandler::Handler(on_sigio),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler only touches an atomic, which is async-signal-safe.
        unsafe { sigaction(Signal::SIGIO, &action) }?;
        let mut block = SigSet::empty();
        block.add(Signal::SIGIO);
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&block), Some(&mut old))?;
        old.remove(Signal::SIGIO);
        Ok(Self { sleep_mask: old })
    }

    /// Signals counted so far.
    pub fn count(&self) -> u64 {
        SIGIO_COUNT.load(Ordering::SeqCst)
    }

    /// Sleeps until more than `seen` signals were counted, or `timeout`
    /// passes; returns the count.
    pub fn wait_beyond(&self, seen: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.count();
            if count > seen {
                return count;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return count;
            }
            // Returns EINTR once the handler ran, 0 on timeout.
            match ppoll(
                &mut [],
                Some(TimeSpec::from_duration(left)),
                Some(self.sleep_mask),
            ) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// Lets pending signals in for `period` and returns the count: used to
    /// prove that no further signal arrives.
    pub fn settle(&self, period: Duration) -> u64 {
        let deadline = Instant::now() + period;
        let mut count = self.count();
        while Instant::now() < deadline {
            count = self.wait_beyond(count, deadline.saturating_duration_since(Instant::now()));
        }
        count
    }
}
