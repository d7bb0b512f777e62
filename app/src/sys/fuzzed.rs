//! System calls with fuzzed arguments (`asyncn-test fuzz`): random flags,
//! commands and descriptors, and pointers of the kinds made here.
//!
//! Memory: every pointer a call gets is a [`Ptr`], which only [`Arena`]
//! makes: into the arena's own mappings, which no Rust reference points
//! into, each followed by a page nothing may touch; or NULL, a `PROT_NONE`
//! page, kernel space. The kernel fills a buffer from its start and stops
//! at the first page it cannot write, so whatever the length, a call
//! changes nothing outside the arena. Commands whose argument is a pointer
//! take a `Ptr`; those given a plain number are listed ([`IntFcntl`],
//! [`GenericIoctl`]) and read no memory through it, or only read.
//!
//! Descriptors: an [`Fd`] is a [`FuzzFile`], an asyncn device file that
//! `open` or a dup here made, or a number no file can have ([`NotOpen`]).
//! Only `close` ends a file, and only such a file: a fuzzed call never acts
//! on a descriptor another part of the program owns. That the files are
//! asyncn nodes is what lets [`ioctl`] take any request (see there).

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::sys::mman::{mprotect, munmap, ProtFlags};

use super::memory::{kernel_space, page_size};

/// The result of a system call: its return value, or `errno`.
pub type Outcome = Result<i64, Errno>;

fn outcome(ret: i64) -> Outcome {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// A pointer argument; see the module's comment. It borrows the arena it
/// points into (so it cannot outlive its mapping) and stays in its thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ptr<'a>(usize, PhantomData<(&'a Arena, *const ())>);

impl Ptr<'static> {
    pub const NULL: Ptr<'static> = Ptr(0, PhantomData);

    /// `offset` bytes into kernel space (wrapping within it), where this
    /// program has a kernel space (see `memory::kernel_space`).
    pub fn kernel(offset: usize) -> Option<Ptr<'static>> {
        let start = kernel_space()?;
        Some(Ptr(start + offset % (usize::MAX - start), PhantomData))
    }
}

impl Ptr<'_> {
    pub fn address(self) -> usize {
        self.0
    }

    fn raw(self) -> *mut libc::c_void {
        self.0 as *mut libc::c_void
    }
}

/// An anonymous mapping, unmapped on drop.
struct Mapping {
    start: NonNull<libc::c_void>,
    len: usize,
}

impl Mapping {
    /// `len` bytes (whole pages) readable and writable, zeroed.
    fn new(len: usize) -> io::Result<Self> {
        let start = super::memory::map_anonymous(len, false)?;
        Ok(Self { start, len })
    }

    fn address(&self) -> usize {
        self.start.as_ptr() as usize
    }

    /// Sets the protection of `pages` pages from page `first`.
    fn protect(&self, first: usize, pages: usize, protection: ProtFlags) -> io::Result<()> {
        let page = page_size();
        assert!((first + pages) * page <= self.len);
        // SAFETY: a whole-page range inside this mapping, which no Rust
        // reference points into.
        let start = unsafe { self.start.byte_add(first * page) };
        Ok(unsafe { mprotect(start, pages * page, protection) }?)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `new`, once.
        let _ = unsafe { munmap(self.start, self.len) };
    }
}

/// The memory pointers point into: a writable region of `valid_len`
/// bytes with an inaccessible page after it, a read-only page with an
/// inaccessible page after it, and an inaccessible page.
pub struct Arena {
    writable: Mapping,
    valid_len: usize,
    read_only: Mapping,
    inaccessible: Mapping,
    page: usize,
}

impl Arena {
    pub fn new(valid_len: usize) -> io::Result<Self> {
        let page = page_size();
        let pages = valid_len.div_ceil(page).max(1);
        let writable = Mapping::new((pages + 1) * page)?;
        writable.protect(pages, 1, ProtFlags::PROT_NONE)?;
        let read_only = Mapping::new(2 * page)?;
        read_only.protect(0, 1, ProtFlags::PROT_READ)?;
        read_only.protect(1, 1, ProtFlags::PROT_NONE)?;
        let inaccessible = Mapping::new(page)?;
        inaccessible.protect(0, 1, ProtFlags::PROT_NONE)?;
        // The writable bytes end where the guard page starts: `valid_len`
        // is the room from the start.
        Ok(Self {
            valid_len: pages * page,
            writable,
            read_only,
            inaccessible,
            page,
        })
    }

    pub fn page(&self) -> usize {
        self.page
    }

    /// Bytes writable from the start of the writable region.
    pub fn valid_len(&self) -> usize {
        self.valid_len
    }

    /// `offset` bytes into the writable region (at most its end).
    pub fn valid(&self, offset: usize) -> Ptr<'_> {
        Ptr(
            self.writable.address() + offset.min(self.valid_len),
            PhantomData,
        )
    }

    /// Bytes writable from `ptr` to the end of the writable region (0 for
    /// a pointer elsewhere).
    pub fn room(&self, ptr: Ptr<'_>) -> usize {
        let start = self.writable.address();
        if (start..start + self.valid_len).contains(&ptr.0) {
            start + self.valid_len - ptr.0
        } else {
            0
        }
    }

    /// The read-only page (zeros).
    pub fn read_only(&self) -> Ptr<'_> {
        Ptr(self.read_only.address(), PhantomData)
    }

    /// The last 8 bytes of the read-only page, before the inaccessible one.
    pub fn straddle(&self) -> Ptr<'_> {
        Ptr(self.read_only.address() + self.page - 8, PhantomData)
    }

    pub fn inaccessible(&self) -> Ptr<'_> {
        Ptr(self.inaccessible.address(), PhantomData)
    }

    /// Writes `bytes` at the start of the writable region and points there.
    pub fn record(&self, bytes: &[u8]) -> Ptr<'_> {
        let len = bytes.len().min(self.valid_len);
        // SAFETY: the writable region has `valid_len` bytes and no Rust
        // reference points into it; the arena is not `Sync`, so no call
        // using it runs meanwhile.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.writable.start.as_ptr().cast(), len)
        };
        self.valid(0)
    }
}

/// An asyncn device file that [`open`], [`dup`] or [`dup_from`] made.
#[derive(Debug)]
pub struct FuzzFile(OwnedFd);

impl FuzzFile {
    /// Its descriptor number, for reports.
    pub fn number(&self) -> i32 {
        self.0.as_raw_fd()
    }
}

/// A descriptor argument; see the module's comment.
#[derive(Clone, Copy, Debug)]
pub enum Fd<'a> {
    Own(&'a FuzzFile),
    NotOpen(NotOpen),
}

/// A descriptor number no file can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotOpen {
    /// -1.
    Negative,
    /// `i32::MAX`, beyond any process's descriptor limit.
    TooLarge,
}

impl Fd<'_> {
    fn raw(self) -> i32 {
        match self {
            Fd::Own(file) => file.number(),
            Fd::NotOpen(NotOpen::Negative) => -1,
            Fd::NotOpen(NotOpen::TooLarge) => i32::MAX,
        }
    }
}

impl fmt::Display for Fd<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.raw())
    }
}

/// A new descriptor from `ret`, or `errno`.
fn new_fd(ret: i32) -> Result<OwnedFd, Errno> {
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the call just made `ret` and nothing else knows it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// The asyncn driver's major number (`/proc/devices`), read once.
fn asyncn_major() -> Option<u64> {
    static MAJOR: OnceLock<Option<u64>> = OnceLock::new();
    *MAJOR.get_or_init(|| {
        let devices = std::fs::read_to_string("/proc/devices").ok()?;
        devices.lines().find_map(|line| {
            let (number, name) = line.trim().split_once(' ')?;
            (name == "asyncn").then(|| number.parse().ok()).flatten()
        })
    })
}

/// `open(path, flags, 0600)`, of an asyncn node only: any other file is
/// closed again and the call fails with `ENODEV` (which no oracle allows,
/// so the run reports it).
pub fn open(path: &CStr, flags: i32) -> Result<FuzzFile, Errno> {
    // SAFETY: `path` is NUL-terminated; the mode is an int.
    let fd = new_fd(unsafe { libc::open(path.as_ptr(), flags, 0o600) })?;
    let stat = nix::sys::stat::fstat(&fd)?;
    let is_char = stat.st_mode & libc::S_IFMT == libc::S_IFCHR;
    if !is_char || Some(u64::from(libc::major(stat.st_rdev))) != asyncn_major() {
        return Err(Errno::ENODEV);
    }
    Ok(FuzzFile(fd))
}

/// `close(file)`, with its result (dropping a `FuzzFile` ignores it).
pub fn close(file: FuzzFile) -> Outcome {
    // SAFETY: the file was this caller's, and `into_raw_fd` gave it up.
    outcome(i64::from(unsafe { libc::close(file.0.into_raw_fd()) }))
}

/// `dup(fd)`: a new descriptor of the same asyncn file.
pub fn dup(fd: Fd<'_>) -> Result<FuzzFile, Errno> {
    // SAFETY: takes a number.
    new_fd(unsafe { libc::dup(fd.raw()) }).map(FuzzFile)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, lowest)`.
pub fn dup_from(fd: Fd<'_>, lowest: i32) -> Result<FuzzFile, Errno> {
    // SAFETY: this command takes an int.
    new_fd(unsafe { libc::fcntl(fd.raw(), libc::F_DUPFD_CLOEXEC, lowest) }).map(FuzzFile)
}

pub fn read(fd: Fd<'_>, at: Ptr<'_>, len: usize) -> Outcome {
    // SAFETY: `at` is a `Ptr` (see the module's comment).
    outcome(unsafe { libc::read(fd.raw(), at.raw(), len) } as i64)
}

pub fn write(fd: Fd<'_>, at: Ptr<'_>, len: usize) -> Outcome {
    // SAFETY: a write only reads user memory.
    outcome(unsafe { libc::write(fd.raw(), at.raw(), len) } as i64)
}

pub fn pread(fd: Fd<'_>, at: Ptr<'_>, len: usize, offset: i64) -> Outcome {
    // SAFETY: as for `read`.
    outcome(unsafe { libc::pread(fd.raw(), at.raw(), len, offset as libc::off_t) } as i64)
}

pub fn pwrite(fd: Fd<'_>, at: Ptr<'_>, len: usize, offset: i64) -> Outcome {
    // SAFETY: as for `write`.
    outcome(unsafe { libc::pwrite(fd.raw(), at.raw(), len, offset as libc::off_t) } as i64)
}

pub fn lseek(fd: Fd<'_>, offset: i64, whence: i32) -> Outcome {
    // SAFETY: takes numbers.
    outcome(unsafe { libc::lseek(fd.raw(), offset as libc::off_t, whence) } as i64)
}

/// The iovec array of `readv`/`writev`.
pub enum Iovecs<'a> {
    /// These (pointer, length) pairs; `count` may claim more or fewer.
    Array(&'a [(Ptr<'a>, usize)]),
    /// An array the kernel cannot read: the arena's inaccessible page.
    Inaccessible(&'a Arena),
}

/// `readv` (or `writev`, `write`) of `count` iovecs.
pub fn vectored(fd: Fd<'_>, iovecs: Iovecs<'_>, count: i32, write: bool) -> Outcome {
    let array: Vec<libc::iovec> = match iovecs {
        Iovecs::Array(pairs) => pairs
            .iter()
            .map(|&(at, len)| libc::iovec {
                iov_base: at.raw(),
                iov_len: len,
            })
            .collect(),
        Iovecs::Inaccessible(_) => Vec::new(),
    };
    let pointer = match iovecs {
        // A count beyond the array reads past it only if the kernel
        // accepted such a count, which it refuses above UIO_MAXIOV: keep
        // it within the array otherwise.
        Iovecs::Array(_) if (0..=1024).contains(&count) && count as usize > array.len() => {
            return Err(Errno::EINVAL)
        }
        Iovecs::Array(_) => array.as_ptr(),
        Iovecs::Inaccessible(arena) => arena.inaccessible().raw() as *const libc::iovec,
    };
    // SAFETY: the array is `array` (at most its length, or a count the
    // kernel refuses before reading it) or a `Ptr`; its entries are `Ptr`s.
    let ret = unsafe {
        if write {
            libc::writev(fd.raw(), pointer, count)
        } else {
            libc::readv(fd.raw(), pointer, count)
        }
    };
    outcome(ret as i64)
}

/// The ioctls the VFS answers for every file, which at most read an int
/// at their argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenericIoctl {
    Fionbio,
    Fioasync,
    Fioclex,
    Fionclex,
}

impl GenericIoctl {
    pub fn request(self) -> libc::c_ulong {
        (match self {
            GenericIoctl::Fionbio => libc::FIONBIO,
            GenericIoctl::Fioasync => libc::FIOASYNC,
            GenericIoctl::Fioclex => libc::FIOCLEX,
            GenericIoctl::Fionclex => libc::FIONCLEX,
        }) as libc::c_ulong
    }
}

/// `ioctl(fd, request, arg)` with any number as the argument.
pub fn generic_ioctl(fd: Fd<'_>, request: GenericIoctl, arg: usize) -> Outcome {
    // SAFETY: these read at most an int at `arg`, and write nothing.
    outcome(i64::from(unsafe {
        libc::ioctl(fd.raw(), request.request() as _, arg)
    }))
}

/// `ioctl(fd, request, at)` with any request number. Any is safe because
/// `fd` is an asyncn node or no file: the driver has no ioctls, and the
/// VFS's own for a character device read or write only at `at` itself
/// (an int, a fixed struct, or back what they read there), never at a
/// pointer found in it.
pub fn ioctl(fd: Fd<'_>, request: u32, at: Ptr<'_>) -> Outcome {
    // SAFETY: the request acts on an asyncn node, or on no file, and only
    // at `at`, a `Ptr` (see above).
    outcome(i64::from(unsafe {
        libc::ioctl(fd.raw(), request as _, at.raw())
    }))
}

/// The `fcntl` commands given a plain number, which they do not
/// dereference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntFcntl {
    SetFl,
    SetOwn,
    SetSig,
    SetPipeSize,
    AddSeals,
    /// A command number Linux does not have (9999).
    Unknown,
}

impl IntFcntl {
    pub fn command(self) -> i32 {
        match self {
            IntFcntl::SetFl => libc::F_SETFL,
            IntFcntl::SetOwn => libc::F_SETOWN,
            IntFcntl::SetSig => super::rtsig::F_SETSIG,
            IntFcntl::SetPipeSize => libc::F_SETPIPE_SZ,
            IntFcntl::AddSeals => libc::F_ADD_SEALS,
            IntFcntl::Unknown => 9999,
        }
    }
}

/// `fcntl(fd, command, arg)`. -1 is an error; another negative number is a
/// result (`F_GETOWN` of a group).
pub fn fcntl_int(fd: Fd<'_>, command: IntFcntl, arg: i32) -> Outcome {
    // SAFETY: these commands take an int.
    let r = unsafe { libc::fcntl(fd.raw(), command.command(), arg) };
    if r == -1 {
        Err(Errno::last())
    } else {
        Ok(i64::from(r))
    }
}

/// The `fcntl` commands without an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetFcntl {
    /// `F_GETFL`.
    StatusFlags,
    /// `F_GETOWN`.
    Owner,
    /// `F_GETSIG`.
    Signal,
    /// `F_GETFD`.
    DescriptorFlags,
}

/// `fcntl(fd, command)`: -1 is an error, as for `fcntl_int`.
pub fn fcntl_get(fd: Fd<'_>, command: GetFcntl) -> Outcome {
    let cmd = match command {
        GetFcntl::StatusFlags => libc::F_GETFL,
        GetFcntl::Owner => libc::F_GETOWN,
        GetFcntl::Signal => super::rtsig::F_GETSIG,
        GetFcntl::DescriptorFlags => libc::F_GETFD,
    };
    // SAFETY: these take no argument.
    let r = unsafe { libc::fcntl(fd.raw(), cmd) };
    if r == -1 {
        Err(Errno::last())
    } else {
        Ok(i64::from(r))
    }
}

/// `fcntl(fd, command, at)` as the bare system call, for commands that
/// take a pointer: 32-bit glibc converts the lock record of
/// `F_GETLK`/`F_SETLK` in user space, dereferencing the fuzzed pointer
/// itself (a crash of the fuzzer, not a test of the kernel).
pub fn fcntl_pointer(fd: Fd<'_>, command: i32, at: Ptr<'_>) -> Outcome {
    // SAFETY: whatever the command does with its argument, it is a `Ptr`.
    outcome(unsafe { libc::syscall(libc::SYS_fcntl, fd.raw(), command, at.address()) } as i64)
}

/// `poll` of `(fd, events)` pairs, or of an array the kernel cannot read
/// (`count` entries at the arena's inaccessible page).
pub fn poll(entries: Result<&[(Fd<'_>, i16)], &Arena>, count: usize, timeout_ms: i32) -> Outcome {
    let mut fds: Vec<libc::pollfd> = match entries {
        Ok(pairs) => pairs
            .iter()
            .map(|&(fd, events)| libc::pollfd {
                fd: fd.raw(),
                events,
                revents: 0,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let pointer = match entries {
        Ok(_) if count > fds.len() => return Err(Errno::EINVAL),
        Ok(_) => fds.as_mut_ptr(),
        Err(arena) => arena.inaccessible().raw().cast(),
    };
    // SAFETY: `fds` with at most its length, or a `Ptr`.
    outcome(i64::from(unsafe {
        libc::poll(pointer, count as libc::nfds_t, timeout_ms)
    }))
}

/// `mmap` of a page of `fd`, shared, readable and writable; unmapped at
/// once when it succeeds.
pub fn mmap_shared(fd: Fd<'_>) -> Outcome {
    // SAFETY: a new mapping aliases nothing the program holds, and is
    // unmapped before anything could refer to it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.raw(),
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    // SAFETY: unmaps what was just mapped.
    unsafe { libc::munmap(p, 4096) };
    Ok(0)
}

pub fn fsync(fd: Fd<'_>) -> Outcome {
    // SAFETY: takes a number.
    outcome(i64::from(unsafe { libc::fsync(fd.raw()) }))
}

pub fn fdatasync(fd: Fd<'_>) -> Outcome {
    // SAFETY: takes a number.
    outcome(i64::from(unsafe { libc::fdatasync(fd.raw()) }))
}

pub fn ftruncate(fd: Fd<'_>, len: i64) -> Outcome {
    // SAFETY: takes numbers.
    outcome(i64::from(unsafe {
        libc::ftruncate(fd.raw(), len as libc::off_t)
    }))
}

pub fn flock(fd: Fd<'_>, operation: i32) -> Outcome {
    // SAFETY: takes numbers.
    outcome(i64::from(unsafe { libc::flock(fd.raw(), operation) }))
}

#[cfg(test)]
mod tests {
    use nix::errno::Errno;

    #[test]
    fn only_asyncn_nodes_open() {
        // Opened, then refused: a character device of another driver.
        assert_eq!(
            super::open(c"/dev/null", libc::O_RDONLY).map(|_| ()),
            Err(Errno::ENODEV)
        );
        // Failures are the kernel's own.
        assert_eq!(
            super::open(c"/nonexistent/asyncn0", libc::O_RDONLY).map(|_| ()),
            Err(Errno::ENOENT)
        );
    }
}
