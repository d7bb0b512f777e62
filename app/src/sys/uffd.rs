//! `userfaultfd(2)`: a page whose first access stalls until this program
//! fills it, or makes it fail. The stall and read-fault cases use it to
//! hold a system call inside the driver's user copy for as long as they
//! like, and to make that copy fault at a moment of their choosing.
//!
//! The structures and ioctl numbers are include/uapi/linux/userfaultfd.h's
//! (the libc crate does not have them); their sizes are checked below.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Mutex;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::mman::{mprotect, munmap, ProtFlags};

const UFFD_API: u64 = 0xaa;
const UFFDIO_REGISTER_MODE_MISSING: u64 = 1;
const UFFD_EVENT_PAGEFAULT: u8 = 0x12;

#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioRange {
    start: u64,
    len: u64,
}

#[repr(C)]
struct UffdioRegister {
    range: UffdioRange,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioCopy {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    copy: i64,
}

/// `struct uffd_msg`: the event byte, padding, then (for a page fault)
/// `flags` and `address`.
#[repr(C)]
struct UffdMsg {
    event: u8,
    reserved: [u8; 7],
    flags: u64,
    address: u64,
    rest: u64,
}

const _: () = assert!(std::mem::size_of::<UffdioApi>() == 24);
const _: () = assert!(std::mem::size_of::<UffdioRegister>() == 32);
const _: () = assert!(std::mem::size_of::<UffdioCopy>() == 40);
const _: () = assert!(std::mem::size_of::<UffdMsg>() == 32);

/// `_IOWR(0xAA, nr, size)` on the architectures we target (arm, arm64,
/// x86_64 share the generic encoding).
const fn iowr(nr: u64, size: usize) -> u64 {
    (3 << 30) | ((size as u64) << 16) | (0xaa << 8) | nr
}
const UFFDIO_API: u64 = iowr(0x3f, std::mem::size_of::<UffdioApi>());
const UFFDIO_REGISTER: u64 = iowr(0x00, std::mem::size_of::<UffdioRegister>());
const UFFDIO_COPY: u64 = iowr(0x03, std::mem::size_of::<UffdioCopy>());
/// `_IOR(0xAA, nr, size)`, likewise.
const fn ior(nr: u64, size: usize) -> u64 {
    (2 << 30) | ((size as u64) << 16) | (0xaa << 8) | nr
}
const UFFDIO_WAKE: u64 = ior(0x02, std::mem::size_of::<UffdioRange>());
const _: () = assert!(UFFDIO_WAKE == 0x8010_aa02);

/// One page registered with a userfaultfd in "missing" mode: the first
/// access (by this process or by the kernel on its behalf) waits until
/// [`StallPage::fill`] provides the page.
pub struct StallPage {
    uffd: OwnedFd,
    page: NonNull<libc::c_void>,
    len: usize,
    /// Whether [`StallPage::fail`] made the page inaccessible. Held while
    /// [`StallPage::bytes`] reads the page, so the two never overlap.
    failed: Mutex<bool>,
}

// SAFETY: the mapping is owned by this value and only touched through the
// kernel; the descriptor may be used from any thread.
unsafe impl Send for StallPage {}
// SAFETY: as above.
unsafe impl Sync for StallPage {}

impl StallPage {
    /// A fresh anonymous page, not yet present, registered with a new
    /// userfaultfd. Fails with the kernel's errno when it has no
    /// userfaultfd (`ENOSYS`) or refuses it (`EPERM`).
    pub fn new() -> io::Result<Self> {
        // SAFETY: userfaultfd takes a flags integer and returns a new fd.
        let fd = Errno::result(unsafe {
            libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK)
        })?;
        // SAFETY: the descriptor was just created and is owned here only.
        let uffd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut api = UffdioApi {
            api: UFFD_API,
            features: 0,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_API reads and writes a `uffdio_api`.
        Errno::result(unsafe { libc::ioctl(uffd.as_raw_fd(), UFFDIO_API as _, &mut api) })?;
        let len = crate::sys::memory::page_size();
        let page = crate::sys::memory::map_anonymous(len, false)?;
        let stall = Self {
            uffd,
            page,
            len,
            failed: Mutex::new(false),
        };
        let mut register = UffdioRegister {
            range: UffdioRange {
                start: page.as_ptr() as u64,
                len: len as u64,
            },
            mode: UFFDIO_REGISTER_MODE_MISSING,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_REGISTER reads and writes a `uffdio_register`; the
        // range is this value's own mapping.
        Errno::result(unsafe {
            libc::ioctl(stall.uffd.as_raw_fd(), UFFDIO_REGISTER as _, &mut register)
        })?;
        Ok(stall)
    }

    /// The start of the page (for the kernel to access; touching it here
    /// would stall this thread).
    pub fn as_ptr(&self) -> *mut u8 {
        self.page.as_ptr().cast()
    }

    /// Waits up to `timeout` for a task to stall on the page: true when one
    /// did (a page-fault event for this page was read).
    pub fn wait_for_fault(&self, timeout: Duration) -> io::Result<bool> {
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(&self.uffd),
            PollFlags::POLLIN,
        )];
        let ms = PollTimeout::try_from(timeout.as_millis().min(60_000) as i32)
            .map_err(|_| io::Error::other("poll timeout"))?;
        if poll(&mut fds, ms)? == 0 {
            return Ok(false);
        }
        let mut msg = UffdMsg {
            event: 0,
            reserved: [0; 7],
            flags: 0,
            address: 0,
            rest: 0,
        };
        // SAFETY: reads one `uffd_msg` into `msg`, which has its size.
        let n = Errno::result(unsafe {
            libc::read(
                self.uffd.as_raw_fd(),
                (&mut msg as *mut UffdMsg).cast(),
                std::mem::size_of::<UffdMsg>(),
            )
        })?;
        let start = self.page.as_ptr() as u64;
        Ok(n as usize == std::mem::size_of::<UffdMsg>()
            && msg.event == UFFD_EVENT_PAGEFAULT
            && (start..start + self.len as u64).contains(&msg.address))
    }

    /// Provides the page (zero-filled) and wakes whoever stalled on it.
    pub fn fill(&self) -> io::Result<()> {
        let zeros = vec![0u8; self.len];
        let mut copy = UffdioCopy {
            dst: self.page.as_ptr() as u64,
            src: zeros.as_ptr() as u64,
            len: self.len as u64,
            mode: 0,
            copy: 0,
        };
        // SAFETY: UFFDIO_COPY reads `len` bytes at `src` (the vector above)
        // into the registered page, and writes back `copy`.
        let ret = Errno::result(unsafe {
            libc::ioctl(self.uffd.as_raw_fd(), UFFDIO_COPY as _, &mut copy)
        });
        match ret {
            // EEXIST: the page was provided already.
            Ok(_) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes the stalled access fail: the page becomes `PROT_NONE`, then
    /// whoever stalled on it is woken, retries, and faults (a system call's
    /// copy gives `EFAULT`). The page stays inaccessible.
    pub fn fail(&self) -> io::Result<()> {
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        *failed = true;
        // SAFETY: the mapping is this value's own, and the only reference
        // into it this program makes, `bytes`'s, exists only while the lock
        // held here is held by `bytes`.
        unsafe { mprotect(self.page, self.len, ProtFlags::PROT_NONE) }?;
        drop(failed);
        let mut range = UffdioRange {
            start: self.page.as_ptr() as u64,
            len: self.len as u64,
        };
        // SAFETY: UFFDIO_WAKE reads a `uffdio_range`.
        Errno::result(unsafe { libc::ioctl(self.uffd.as_raw_fd(), UFFDIO_WAKE as _, &mut range) })?;
        Ok(())
    }

    /// The page's bytes, once filled (none after [`StallPage::fail`]).
    pub fn bytes(&self, len: usize) -> Vec<u8> {
        let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if *failed {
            return Vec::new();
        }
        let len = len.min(self.len);
        // SAFETY: the page is mapped, readable and present (filled), no
        // other thread writes it now, and `fail` cannot make it inaccessible
        // while `failed` is held.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), len) }.to_vec()
    }
}

impl Drop for StallPage {
    fn drop(&mut self) {
        // Whoever still waits is released, then the page goes.
        let _ = self.fill();
        // SAFETY: the mapping was created by `new` and is unmapped once.
        let _ = unsafe { munmap(self.page, self.len) };
    }
}

impl StallPage {
    /// `read(fd, page, len)`: stalls until the page is filled, then
    /// returns what `read` returned.
    pub fn read_into(&self, fd: std::os::fd::BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        let len = len.min(self.len);
        // SAFETY: the page is this value's mapping, writable, `len` bytes
        // at most; the kernel waits for it to be present.
        let n = Errno::result(unsafe { libc::read(fd.as_raw_fd(), self.as_ptr().cast(), len) })?;
        Ok(n as usize)
    }

    /// `write(fd, page, len)`: stalls until the page is filled, then
    /// returns what `write` returned.
    pub fn write_from(&self, fd: std::os::fd::BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        let len = len.min(self.len);
        // SAFETY: the page is this value's mapping, `len` bytes at most;
        // the kernel waits for it to be present.
        let n = Errno::result(unsafe { libc::write(fd.as_raw_fd(), self.as_ptr().cast(), len) })?;
        Ok(n as usize)
    }
}
