//! Loading and unloading the module, and reading the kernel log, for the
//! cases that check module parameters and unload.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::kmod::{delete_module, finit_module, DeleteModuleFlags, ModuleInitFlags};
use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};

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
            // "<prio>,<seq>,<time>,<flags>;<message>\n<continuation>"
            let message = text.split_once(';').map_or(&*text, |(_, m)| m);
            let message = message.lines().next().unwrap_or_default();
            if pred(message) {
                return Some(message.to_owned());
            }
        }
        None
    }
}

/// A page that no access may touch, to hand the kernel a bad pointer.
pub struct InaccessiblePage(NonNull<libc::c_void>);

impl InaccessiblePage {
    pub fn as_ptr(&self) -> *mut libc::c_void {
        self.0.as_ptr()
    }
}

impl Drop for InaccessiblePage {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `inaccessible_page` and is unmapped once.
        let _ = unsafe { munmap(self.0, page_size()) };
    }
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

pub fn inaccessible_page() -> io::Result<InaccessiblePage> {
    let len =
        std::num::NonZeroUsize::new(page_size()).ok_or_else(|| io::Error::other("page size 0"))?;
    // SAFETY: a fresh anonymous mapping aliases nothing.
    let ptr = unsafe { mmap_anonymous(None, len, ProtFlags::PROT_NONE, MapFlags::MAP_PRIVATE) }?;
    Ok(InaccessiblePage(ptr))
}
