//! Memory the kernel is handed on purpose: pages no access may touch,
//! kernel addresses, the page size.

use std::io;
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};

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

/// An address user space can never access: kernel space (the top of the
/// address space on 64-bit, above 3 GiB on 32-bit ARM).
pub const KERNEL_ADDRESS: usize = if cfg!(target_pointer_width = "64") {
    0xffff_ff80_0000_0000_u64 as usize
} else {
    0xc000_0000
};

/// Kernel space as a program can point at it: none for a 32-bit program
/// on a 64-bit kernel, all of whose 4 GiB are user space.
pub fn kernel_space() -> Option<usize> {
    if cfg!(target_pointer_width = "64") {
        return Some(KERNEL_ADDRESS);
    }
    // Probed once: the fuzzer asks for every kernel pointer it draws.
    static KERNEL_SPACE: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *KERNEL_SPACE.get_or_init(probe_kernel_space)
}

/// Whether `KERNEL_ADDRESS` is kernel space for this 32-bit program.
fn probe_kernel_space() -> Option<usize> {
    // Ask for a page there: user space if the kernel maps it or finds one
    // there already (whatever uname says, e.g. under `linux32`).
    // SAFETY: MAP_FIXED_NOREPLACE never replaces a mapping; one made here
    // is unmapped at once and was never referred to.
    let p = unsafe {
        libc::mmap(
            KERNEL_ADDRESS as *mut libc::c_void,
            page_size(),
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p != libc::MAP_FAILED {
        // SAFETY: unmaps the page mapped just now.
        unsafe { libc::munmap(p, page_size()) };
        return None;
    }
    (Errno::last() != Errno::EEXIST).then_some(KERNEL_ADDRESS)
}

pub fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|size| usize::try_from(size).ok())
        .unwrap_or(4096)
}

/// `mmap` of `len` bytes of `fd`, shared and read-only, unmapped at once
/// when it succeeds: whether the file can be mapped.
pub fn try_map_shared(fd: impl std::os::fd::AsFd, len: usize) -> nix::Result<()> {
    let len = std::num::NonZeroUsize::new(len).ok_or(nix::errno::Errno::EINVAL)?;
    // SAFETY: a new shared mapping aliases nothing the program holds, and
    // is unmapped before anything could refer to it.
    let ptr = unsafe {
        nix::sys::mman::mmap(None, len, ProtFlags::PROT_READ, MapFlags::MAP_SHARED, fd, 0)
    }?;
    // SAFETY: unmaps the mapping made just now, once.
    unsafe { munmap(ptr, len.get()) }
}

/// A new anonymous mapping of `len` bytes, readable, writable and zeroed,
/// private or shared with child processes: memory nothing else refers to.
/// The caller unmaps it (or leaks it).
pub fn map_anonymous(len: usize, shared: bool) -> io::Result<NonNull<libc::c_void>> {
    let size = std::num::NonZeroUsize::new(len).ok_or_else(|| io::Error::other("empty mapping"))?;
    let flags = if shared {
        MapFlags::MAP_SHARED
    } else {
        MapFlags::MAP_PRIVATE
    };
    // SAFETY: a fresh anonymous mapping aliases nothing.
    Ok(unsafe {
        mmap_anonymous(
            None,
            size,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            flags,
        )
    }?)
}

pub fn inaccessible_page() -> io::Result<InaccessiblePage> {
    let len =
        std::num::NonZeroUsize::new(page_size()).ok_or_else(|| io::Error::other("page size 0"))?;
    // SAFETY: a fresh anonymous mapping aliases nothing.
    let ptr = unsafe { mmap_anonymous(None, len, ProtFlags::PROT_NONE, MapFlags::MAP_PRIVATE) }?;
    Ok(InaccessiblePage(ptr))
}
