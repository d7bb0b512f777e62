//! The system below the program: the `unsafe` blocks and raw `libc` calls
//! that nix cannot do for us live under here, behind functions whose
//! signatures make misuse impossible. One module is still outside:
//! `fuzz.rs` makes its random system calls with raw descriptors and
//! pointers itself (`scripts/app-modules.py` allows it there and nowhere
//! else).

pub mod memory;
pub mod process;
pub mod raw;
pub mod rtsig;
pub mod shared;
pub mod sigio;
pub mod uffd;

/// A tokio `AsyncFd` told when `device` is readable.
#[cfg(feature = "tokio")]
pub fn watch_readable(
    device: crate::device::Device,
) -> std::io::Result<tokio::io::unix::AsyncFd<crate::device::Device>> {
    use tokio::io::{unix::AsyncFd, Interest};
    // SAFETY: `Device` owns its descriptor, never closes or replaces it
    // while alive, and gives the same one from every `as_raw_fd`.
    unsafe { AsyncFd::register_with_interest(device, Interest::READABLE) }
        .map_err(std::io::Error::from)
}
