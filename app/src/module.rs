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

/// Waits until `path` is gone and the hotplug helper is idle. devtmpfs
/// removes a node as the driver destroys its device, but a hotplug helper
/// (mdev, udev) still handling the device's earlier events can make the
/// node again, or remove a node of the next load, until it has caught up.
pub fn wait_gone(path: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    wait_until(deadline, || !path.exists()) && settle_hotplug(deadline) && !path.exists()
}

/// Waits until `path` exists (devtmpfs creates nodes asynchronously) and
/// the hotplug helper is idle (see [`wait_gone`]).
pub fn wait_for(path: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    wait_until(deadline, || path.exists()) && settle_hotplug(deadline) && path.exists()
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
/// busybox mdev writes the next sequence number it expects into
/// `/dev/mdev.seq` when it handles events in order; for udev, `udevadm
/// settle` asks udevd (which first takes in what the kernel queued). Without
/// either, nothing to wait for.
fn settle_hotplug(deadline: Instant) -> bool {
    let read_number = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
    };
    if Path::new("/dev/mdev.seq").exists() {
        wait_until(deadline, || {
            match (
                read_number("/dev/mdev.seq"),
                read_number("/sys/kernel/uevent_seqnum"),
            ) {
                (Some(next), Some(sent)) => next > sent,
                // Empty before mdev's first event.
                _ => true,
            }
        })
    } else if Path::new("/run/udev/control").exists() {
        let seconds = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        std::process::Command::new("udevadm")
            .args(["settle", &format!("--timeout={seconds}")])
            .status()
            .is_ok_and(|status| status.success())
    } else {
        true
    }
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
    use super::kmsg_text;

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
