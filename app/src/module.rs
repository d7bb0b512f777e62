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

/// Waits until the hotplug helper has handled every event the kernel sent.
/// For udev, `udevadm settle` asks udevd (which first takes in what the
/// kernel queued). Without udev or mdev, nothing to wait for.
fn settle_hotplug(deadline: Instant) -> Result<(), String> {
    if Path::new("/dev/mdev.seq").exists() {
        settle_mdev(deadline)
    } else if Path::new("/run/udev/control").exists() {
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
    } else {
        Ok(())
    }
}

/// busybox mdev as the kernel's hotplug helper, one process per event:
/// each waits until `/dev/mdev.seq` holds its event's number, handles it
/// and writes the next one, so mdev has caught up once that number is past
/// the kernel's last (`/sys/kernel/uevent_seqnum`). But an mdev that waits
/// 2 s for its turn gives up, handles its event anyway and writes its own
/// next number, which a late predecessor can then overwrite with a lower
/// one: the number stays behind until the next event. So mdev has also
/// caught up when no mdev process has run and neither number has moved for
/// [`MDEV_QUIET`].
fn settle_mdev(deadline: Instant) -> Result<(), String> {
    let read_number = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
    };
    let counters = || {
        (
            read_number("/dev/mdev.seq"),
            read_number("/sys/kernel/uevent_seqnum"),
        )
    };
    if mdev_caught_up(deadline, counters, mdev_running) {
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

/// How long mdev must be idle, its number behind, before it counts as
/// caught up (see [`settle_mdev`]): longer than an mdev waits for its
/// turn (2 s), so an event whose mdev has not even started by then is one
/// mdev itself no longer keeps in order.
const MDEV_QUIET: Duration = Duration::from_millis(2500);

/// Waits until `counters` (`/dev/mdev.seq`, `/sys/kernel/uevent_seqnum`)
/// say mdev has handled every event, or mdev has been idle for
/// [`MDEV_QUIET`]: no process `running` and neither number moving.
fn mdev_caught_up(
    deadline: Instant,
    counters: impl Fn() -> (Option<u64>, Option<u64>),
    running: impl Fn() -> bool,
) -> bool {
    let mut last = counters();
    let mut quiet_since = Instant::now();
    wait_until(deadline, || {
        let now = counters();
        match now {
            (Some(next), Some(sent)) if next > sent => return true,
            // Empty before mdev's first event.
            (None, _) => return true,
            _ => {}
        }
        if now != last || running() {
            last = now;
            quiet_since = Instant::now();
        }
        quiet_since.elapsed() >= MDEV_QUIET
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

    #[test]
    fn mdev_has_caught_up_once_its_number_is_past_the_kernels() {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        assert!(mdev_caught_up(deadline, || (Some(402), Some(401)), || true));
        assert!(start.elapsed() < MDEV_QUIET);
        // Before mdev's first event the file is empty.
        assert!(mdev_caught_up(deadline, || (None, Some(401)), || true));
    }

    #[test]
    fn mdev_behind_and_running_has_not_caught_up() {
        let deadline = Instant::now() + MDEV_QUIET + Duration::from_secs(1);
        assert!(!mdev_caught_up(
            deadline,
            || (Some(401), Some(401)),
            || true
        ));
    }

    #[test]
    fn mdev_behind_with_its_numbers_moving_has_not_caught_up() {
        let deadline = Instant::now() + MDEV_QUIET + Duration::from_secs(1);
        let sent = Cell::new(400);
        let moving = || {
            sent.set(sent.get() + 1);
            (Some(390), Some(sent.get()))
        };
        assert!(!mdev_caught_up(deadline, moving, || false));
    }

    #[test]
    fn mdev_idle_with_its_number_left_behind_has_caught_up() {
        // A late mdev overwrote the number with a lower one; nothing runs.
        let start = Instant::now();
        let deadline = start + MDEV_QUIET * 2;
        assert!(mdev_caught_up(
            deadline,
            || (Some(401), Some(401)),
            || false
        ));
        assert!(start.elapsed() >= MDEV_QUIET);
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
