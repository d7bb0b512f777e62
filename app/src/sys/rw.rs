//! Reads that `std` and nix do not offer.

use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;

/// `preadv2(fd, [buf], -1, RWF_NOWAIT)`: a read at the file's position
/// that must not wait for data (`EAGAIN` instead).
pub fn read_nowait(fd: impl AsFd, buf: &mut [u8]) -> nix::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: one iovec describing `buf`, which is valid for writes of its
    // length while the call runs.
    let n = unsafe { libc::preadv2(fd.as_fd().as_raw_fd(), &iov, 1, -1, libc::RWF_NOWAIT) };
    Errno::result(n).map(|n| n as usize)
}
