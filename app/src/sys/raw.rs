//! System calls handed memory the kernel must refuse: the bad-input cases.
//! Each pointer is of a kind made here ([`Unusable`]), at which nothing
//! can be read or written (nothing mapped, `PROT_NONE`, kernel space), so
//! whatever length the kernel is given, it copies nothing into or out of
//! memory the program uses.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;

use super::memory::{InaccessiblePage, KERNEL_ADDRESS};

/// A user pointer the kernel can neither read nor write through.
#[derive(Clone, Copy)]
pub enum Unusable<'a> {
    /// Address 0: never mapped (`vm.mmap_min_addr`).
    Null,
    /// A `PROT_NONE` page, mapped while the borrow lasts.
    Inaccessible(&'a InaccessiblePage),
    /// Kernel space: `access_ok()` refuses it.
    Kernel,
}

impl Unusable<'_> {
    fn address(self) -> *mut libc::c_void {
        match self {
            Unusable::Null => std::ptr::null_mut(),
            Unusable::Inaccessible(page) => page.as_ptr(),
            Unusable::Kernel => KERNEL_ADDRESS as *mut libc::c_void,
        }
    }
}

/// `read(fd, at, len)`, `len` at most a page (longer, `EINVAL` without a
/// call): from NULL or a `PROT_NONE` page, nothing within a page can be
/// written. Not into kernel space, which a 32-bit program on a 64-bit
/// kernel does not have (`EINVAL`).
pub fn read_into(fd: impl AsFd, at: Unusable<'_>, len: usize) -> nix::Result<usize> {
    if len > super::memory::page_size() || matches!(at, Unusable::Kernel) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: the `len` bytes at `at` are on an unmapped page (the first
    // page is never mapped: `mmap_min_addr`) or a `PROT_NONE` one: nothing
    // can be written there.
    let n = unsafe { libc::read(fd.as_fd().as_raw_fd(), at.address(), len) };
    Errno::result(n).map(|n| n as usize)
}

/// `write(fd, at, len)`.
pub fn write_from(fd: impl AsFd, at: Unusable<'_>, len: usize) -> nix::Result<usize> {
    // SAFETY: nothing is written to user memory by a write.
    let n = unsafe { libc::write(fd.as_fd().as_raw_fd(), at.address(), len) };
    Errno::result(n).map(|n| n as usize)
}

/// `writev(fd, [valid, (at, len)])`: a good iovec, then a bad one.
pub fn writev_then(
    fd: impl AsFd,
    valid: &[u8],
    at: Unusable<'_>,
    len: usize,
) -> nix::Result<usize> {
    let iovecs = [
        libc::iovec {
            iov_base: valid.as_ptr().cast_mut().cast(),
            iov_len: valid.len(),
        },
        libc::iovec {
            iov_base: at.address(),
            iov_len: len,
        },
    ];
    // SAFETY: a write only reads user memory: `valid` for its length, and
    // `at`, which it cannot.
    let n = unsafe { libc::writev(fd.as_fd().as_raw_fd(), iovecs.as_ptr(), 2) };
    Errno::result(n).map(|n| n as usize)
}

/// `read(fd, buf, SIZE_MAX)`: a count no address space holds.
pub fn read_size_max(fd: impl AsFd, buf: &mut [u8]) -> nix::Result<usize> {
    // SAFETY: `access_ok()` refuses a range past the end of user space
    // before anything is copied, so nothing beyond `buf` (nor in it) is
    // written.
    let n = unsafe { libc::read(fd.as_fd().as_raw_fd(), buf.as_mut_ptr().cast(), usize::MAX) };
    Errno::result(n).map(|n| n as usize)
}

/// An ioctl the device does not have.
#[derive(Clone, Copy, Debug)]
pub enum NoSuchIoctl {
    /// A number of a type no driver or file system uses ('N' 0x4e, 0x00).
    Unassigned,
    /// `TCGETS`: a terminal's, which writes its settings at the argument.
    TerminalSettings,
}

impl NoSuchIoctl {
    pub fn request(self) -> libc::c_ulong {
        match self {
            NoSuchIoctl::Unassigned => 0x4e4f_0000,
            NoSuchIoctl::TerminalSettings => libc::TCGETS as libc::c_ulong,
        }
    }
}

/// `ioctl(fd, request, NULL)`.
pub fn ioctl_null(fd: impl AsFd, request: NoSuchIoctl) -> nix::Result<i32> {
    // SAFETY: neither request takes anything but a pointer, and the
    // argument is NULL, which the kernel cannot read or write through.
    Errno::result(unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), request.request() as _, 0usize) })
}
