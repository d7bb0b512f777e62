//! Loading and unloading the module, and reading the kernel log, for the
//! cases that check module parameters and unload.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::kmod::{delete_module, finit_module, DeleteModuleFlags, ModuleInitFlags};

use crate::harness::timeouts::timeout_scale;

/// `finit_module(path, params)`: the errno the kernel gives, if any.
pub fn load(path: &Path, params: &str) -> Result<(), Errno> {
    let file =
        File::open(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let params = CString::new(params).map_err(|_| Errno::EINVAL)?;
    finit_module(&file, &params, ModuleInitFlags::empty())
}

/// `delete_module("asyncn")`; fails with `EBUSY`/`EWOULDBLOCK` while a
/// device file is open.
pub fn unload() -> io::Result<()> {
    delete_module(c"asyncn", DeleteModuleFlags::O_NONBLOCK).map_err(io::Error::from)
}

/// How a wait for a device node ended: how long it took, or what was
/// still not so when the time ran out (the node, or the hotplug helper's
/// event counters).
pub type NodeWait = Result<Duration, String>;

/// Waits until `path` is gone and the hotplug helper is idle. devtmpfs
/// removes a node as the driver destroys its device, but a hotplug helper
/// (mdev, udev) still handling the device's earlier events can make the
/// node again, or remove a node of the next load, until it has caught up.
pub fn wait_gone(path: &Path, timeout: Duration) -> NodeWait {
    wait_node(path, false, timeout)
}

/// Waits until `path` exists (devtmpfs creates nodes asynchronously) and
/// the hotplug helper is idle (see [`wait_gone`]).
pub fn wait_for(path: &Path, timeout: Duration) -> NodeWait {
    wait_node(path, true, timeout)
}

/// A wait's outcome for a check's description: "in 40 ms", or what went
/// wrong.
pub fn describe(wait: &NodeWait) -> String {
    match wait {
        Ok(took) => format!("in {} ms", took.as_millis()),
        Err(why) => why.clone(),
    }
}

fn wait_node(path: &Path, present: bool, timeout: Duration) -> NodeWait {
    let start = Instant::now();
    let (want, not_yet) = if present {
        ("appeared", "missing")
    } else {
        ("went", "there")
    };
    if !wait_until(start + timeout, || path.exists() == present) {
        return Err(format!(
            "{} still {not_yet} after {timeout:?}",
            path.display()
        ));
    }
    let node_after = start.elapsed();
    settle_hotplug(Instant::now() + hotplug_budget())
        .map_err(|why| format!("{} {want} after {node_after:?}, but {why}", path.display()))?;
    if path.exists() != present {
        return Err(format!(
            "{} {want} after {node_after:?}, but once the hotplug helper had caught up it was {not_yet} again",
            path.display()
        ));
    }
    Ok(start.elapsed())
}

/// Waits until the hotplug helper has handled the events of a load or an
/// unload, for [`hotplug_budget`] at most.
pub fn settle() -> Result<(), String> {
    settle_hotplug(Instant::now() + hotplug_budget())
}

/// How long the hotplug helper may take to handle one module's events.
/// Not "at once" ([`wait`](crate::harness::wait)): mdev costs a fork and
/// an exec per event, one after the other, which on an emulated board
/// under host load took 5.6 s for the six events of a load.
fn hotplug_budget() -> Duration {
    Duration::from_secs(30) * timeout_scale()
}

fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Waits until the hotplug helper has handled every event the kernel sent:
/// udev (`udevadm settle` asks udevd, which first takes in what the kernel
/// queued), or busybox mdev as the kernel's hotplug helper
/// ([`settle_mdev`]). Without either, nothing to wait for.
fn settle_hotplug(deadline: Instant) -> Result<(), String> {
    if Path::new("/run/udev/control").exists() {
        let seconds = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        match std::process::Command::new("udevadm")
            .args(["settle", &format!("--timeout={seconds}")])
            .status()
        {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!(
                "udevadm settle --timeout={seconds} failed ({status})"
            )),
            Err(e) => Err(format!("udevadm settle: {e}")),
        }
    } else if Path::new(MDEV_SEQ).exists() {
        settle_mdev(deadline)
    } else {
        Ok(())
    }
}

const MDEV_SEQ: &str = "/dev/mdev.seq";

/// busybox mdev as the kernel's hotplug helper, one process per event:
/// each waits until `/dev/mdev.seq` holds its event's number, handles it
/// and writes the next one, so mdev has caught up when that number is one
/// past the kernel's last (`/sys/kernel/uevent_seqnum`).
///
/// The number can go wrong, though. An mdev that has waited 2 s for its
/// turn handles its event anyway and writes its own next number, which a
/// late predecessor may overwrite with a lower one; mdev writes without
/// truncating, so 999 over 1001 even reads 9991; and a file left empty at
/// boot holds no number until the first event. Then mdev has caught up
/// when it has been idle for [`MDEV_QUIET`] (see [`mdev_caught_up`]), and
/// the number is set right, as mdev would have written it, so that the
/// next events' mdevs do not each wait out their 2 s.
fn settle_mdev(deadline: Instant) -> Result<(), String> {
    let read_number = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
    };
    let counters = || {
        (
            read_number(MDEV_SEQ),
            read_number("/sys/kernel/uevent_seqnum"),
        )
    };
    let repair = |next: u64| {
        let _ = std::fs::write(MDEV_SEQ, next.to_string());
    };
    if mdev_caught_up(deadline, counters, mdev_running, repair) {
        return Ok(());
    }
    let (next, sent) = counters();
    let number = |n: Option<u64>| n.map_or("?".to_owned(), |n| n.to_string());
    Err(format!(
        "mdev had not caught up in {:?}: it expects event {} next, the kernel has sent {}{}",
        hotplug_budget(),
        number(next),
        number(sent),
        if mdev_running() {
            ", and an mdev still runs"
        } else {
            ""
        },
    ))
}

/// How long mdev must look idle, its number wrong, before it counts as
/// caught up (see [`settle_mdev`]). What this bounds is how late an
/// event's mdev may start: the kernel runs it from a workqueue, and until
/// it has executed mdev no process of that name shows it. Longer than an
/// mdev waits for its turn (2 s): an mdev that starts later than that
/// finds the events after its own handled already, out of order, whatever
/// this wait does.
const MDEV_QUIET: Duration = Duration::from_millis(2500);

/// Polls that must also have seen mdev idle: a guest's clock that jumps
/// (its host stalled) cannot satisfy [`MDEV_QUIET`] in one step.
const MDEV_QUIET_POLLS: u32 = 100;

/// Waits until no mdev is `running` and `counters` (`/dev/mdev.seq`,
/// `/sys/kernel/uevent_seqnum`) say mdev has handled every event, or mdev
/// has been idle for [`MDEV_QUIET`] and [`MDEV_QUIET_POLLS`] polls, neither
/// number moving; then `repair` gets the number mdev should have written.
fn mdev_caught_up(
    deadline: Instant,
    counters: impl Fn() -> (Option<u64>, Option<u64>),
    running: impl Fn() -> bool,
    repair: impl Fn(u64),
) -> bool {
    let mut last = counters();
    let mut quiet_since = Instant::now();
    let mut quiet_polls = 0;
    wait_until(deadline, || {
        let now = counters();
        // An mdev still running may be a late one, which could yet undo a
        // later event's work: not caught up, whatever the number says.
        if running() || now != last {
            last = now;
            quiet_since = Instant::now();
            quiet_polls = 0;
            return false;
        }
        if let (Some(next), Some(sent)) = now {
            if next == sent + 1 {
                return true;
            }
        }
        quiet_polls += 1;
        if quiet_since.elapsed() < MDEV_QUIET || quiet_polls < MDEV_QUIET_POLLS {
            return false;
        }
        // Without the kernel's count there is nothing to set right; and
        // nothing to set if an event came in meanwhile.
        if let (_, Some(sent)) = now {
            if counters() != now {
                return false;
            }
            repair(sent + 1);
        }
        true
    })
}

/// Whether a busybox mdev process runs (`/proc/<pid>/comm`).
fn mdev_running() -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        std::fs::read_to_string(entry.path().join("comm"))
            .is_ok_and(|comm| comm.trim_end() == "mdev")
    })
}

/// New kernel log records from the moment it was opened (`/dev/kmsg`).
pub struct KernelLog(File);

impl KernelLog {
    pub fn open() -> io::Result<Self> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        io::Seek::seek(&mut file, io::SeekFrom::End(0))?;
        Ok(Self(file))
    }

    /// The first new record's message text that matches `pred`.
    pub fn find(&mut self, pred: impl Fn(&str) -> bool) -> Option<String> {
        let mut record = vec![0u8; 8192];
        // One record per read; EAGAIN once the log is drained.
        while let Ok(n) = self.0.read(&mut record) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&record[..n]);
            let message = kmsg_text(&text);
            if pred(message) {
                return Some(message.to_owned());
            }
        }
        None
    }
}

/// The message text of one `/dev/kmsg` record,
/// "<prio>,<seq>,<time>,<flags>;<message>\n<continuation lines>": the
/// first line after the header.
fn kmsg_text(record: &str) -> &str {
    let message = record.split_once(';').map_or(record, |(_, m)| m);
    message.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{kmsg_text, mdev_caught_up, MDEV_QUIET};
    use std::cell::Cell;
    use std::time::{Duration, Instant};

    /// `mdev_caught_up` with fixed counters; what it repaired.
    fn caught_up(
        wait: Duration,
        counters: impl Fn() -> (Option<u64>, Option<u64>),
        running: impl Fn() -> bool,
    ) -> (bool, Option<u64>) {
        let repaired = Cell::new(None);
        let done = mdev_caught_up(Instant::now() + wait, counters, running, |next| {
            repaired.set(Some(next))
        });
        (done, repaired.get())
    }

    #[test]
    fn mdev_has_caught_up_when_its_number_is_one_past_the_kernels() {
        let start = Instant::now();
        let result = caught_up(Duration::from_secs(5), || (Some(402), Some(401)), || false);
        assert_eq!(result, (true, None));
        assert!(start.elapsed() < MDEV_QUIET);
    }

    #[test]
    fn a_running_mdev_is_not_caught_up_whatever_the_number() {
        // A late mdev still at work after the others went ahead.
        let wait = Duration::from_secs(1);
        let result = caught_up(wait, || (Some(402), Some(401)), || true);
        assert_eq!(result, (false, None));
    }

    #[test]
    fn mdev_behind_and_running_has_not_caught_up() {
        let wait = MDEV_QUIET + Duration::from_secs(1);
        let result = caught_up(wait, || (Some(401), Some(401)), || true);
        assert_eq!(result, (false, None));
    }

    #[test]
    fn mdev_behind_with_its_numbers_moving_has_not_caught_up() {
        let sent = Cell::new(400);
        let moving = || {
            sent.set(sent.get() + 1);
            (Some(390), Some(sent.get()))
        };
        let result = caught_up(MDEV_QUIET + Duration::from_secs(1), moving, || false);
        assert_eq!(result, (false, None));
    }

    #[test]
    fn mdev_idle_with_a_wrong_number_has_caught_up_and_the_number_is_set_right() {
        // Left behind by a late mdev, mangled (999 over 1001), or empty.
        for number in [Some(401), Some(9991), None] {
            let start = Instant::now();
            let result = caught_up(MDEV_QUIET * 2, || (number, Some(1001)), || false);
            assert_eq!(result, (true, Some(1002)), "mdev.seq {number:?}");
            assert!(start.elapsed() >= MDEV_QUIET);
        }
    }

    #[test]
    fn a_running_mdev_starts_the_quiet_time_over() {
        let start = Instant::now();
        let running = || start.elapsed() < Duration::from_secs(1);
        let result = caught_up(MDEV_QUIET * 2, || (Some(401), Some(401)), running);
        assert_eq!(result, (true, Some(402)));
        // Quiet from the last poll that saw it running, just before 1 s.
        assert!(start.elapsed() >= Duration::from_millis(900) + MDEV_QUIET);
    }

    #[test]
    fn a_kmsg_record_gives_its_first_message_line() {
        assert_eq!(
            kmsg_text("6,1234,5678901,-;asyncn: 4 device(s), 256-byte buffers, major 240\n"),
            "asyncn: 4 device(s), 256-byte buffers, major 240"
        );
        // Dictionary lines (" KEY=value") after the message are not part of it.
        assert_eq!(
            kmsg_text("7,9,10,-,caller=T42;asyncn0: open (read 1, write 0)\n SUBSYSTEM=asyncn\n"),
            "asyncn0: open (read 1, write 0)"
        );
        // A ';' in the message stays in it: only the header's ends it.
        assert_eq!(kmsg_text("4,1,2,-;a; b\n"), "a; b");
        assert_eq!(kmsg_text("no header\nsecond"), "no header");
        assert_eq!(kmsg_text(""), "");
    }
}
