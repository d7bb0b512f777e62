//! The system below the program: every `unsafe` block and raw `libc` call
//! (those nix cannot do for us) lives under here, behind safe functions
//! whose argument types keep memory safe: pointers handed to the kernel
//! are of kinds made here, shared memory holds atomics only, a fork
//! happens only in a single-threaded process. The rest of the program is
//! `#[deny(unsafe_code)]` (main.rs).
//!
//! Where the kernel is given bad pointers on purpose (`raw`, `fuzzed`),
//! memory safety rests on its contract for copies to user space: a copy
//! starts at the buffer's start and stops at the first page it cannot
//! write. A driver that wrote elsewhere would be the bug this program is
//! for, and would crash or fail it.

pub mod fuzzed;
pub mod memory;
pub mod process;
pub mod raw;
pub mod rtsig;
pub mod rw;
pub mod shared;
pub mod sigio;
pub mod uffd;
pub mod uring;

/// A file registered with tokio: only shared access to it, so its
/// descriptor cannot be closed or replaced while registered.
#[cfg(feature = "tokio")]
pub struct Watched(std::fs::File);

#[cfg(feature = "tokio")]
impl Watched {
    pub fn file(&self) -> &std::fs::File {
        &self.0
    }
}

#[cfg(feature = "tokio")]
impl std::os::fd::AsRawFd for Watched {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

/// A tokio `AsyncFd` told when `file` is readable.
#[cfg(feature = "tokio")]
pub fn watch_readable(file: std::fs::File) -> std::io::Result<tokio::io::unix::AsyncFd<Watched>> {
    use tokio::io::{unix::AsyncFd, Interest};
    // SAFETY: `Watched` gives no `&mut File`, so the descriptor stays open
    // and the same until the `AsyncFd` is dropped.
    unsafe { AsyncFd::register_with_interest(Watched(file), Interest::READABLE) }
        .map_err(std::io::Error::from)
}
