//! The fuzz run's oracle: for each call it makes, the outcomes the kernel
//! and the driver may give, successes included, from what the caller knows
//! (its file descriptions, its buffers, the arguments). Pure functions:
//! unit-tested here, judged against the real kernel in the guest.
//!
//! The rules follow the kernel's order of checks (fs/read_write.c,
//! fs/open.c, fs/fcntl.c, fs/ioctl.c, fs/locks.c, fs/select.c, mm/mmap.c,
//! lib/iov_iter.c) and the tables of docs/device.md. `EINTR` is allowed only
//! for calls that can wait: the driver's interruptible mutex (open, read,
//! write), a blocking read, a blocking `flock`, `poll`.

use std::ops::RangeInclusive;

use nix::errno::Errno;
use nix::errno::Errno::*;

/// What a call may give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// Return values that are a success; `None`: no success may happen.
    pub ok: Option<RangeInclusive<i64>>,
    pub errnos: Vec<Errno>,
}

impl Allowed {
    fn ok(range: RangeInclusive<i64>) -> Self {
        Self {
            ok: Some(range),
            errnos: Vec::new(),
        }
    }

    fn ok_exactly(value: i64) -> Self {
        Self::ok(value..=value)
    }

    fn error(errno: Errno) -> Self {
        Self {
            ok: None,
            errnos: vec![errno],
        }
    }

    fn or(mut self, errno: Errno) -> Self {
        if !self.errnos.contains(&errno) {
            self.errnos.push(errno);
        }
        self
    }

    /// Whether `result` (a return value, or the errno of a failure) is one
    /// of these.
    pub fn admits(&self, result: Result<i64, Errno>) -> bool {
        match result {
            Ok(value) => self.ok.as_ref().is_some_and(|ok| ok.contains(&value)),
            Err(errno) => self.errnos.contains(&errno),
        }
    }
}

/// What the caller knows of the open file a descriptor refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Not an open descriptor of this process.
    Closed,
    File(Description),
}

/// One open file description of the device (shared by `dup`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Description {
    pub readable: bool,
    pub writable: bool,
    /// Opened with `O_PATH`: a handle, no I/O.
    pub path_only: bool,
    /// `O_NONBLOCK`, when known (`FIONBIO` from a buffer it cannot read
    /// back leaves it unknown).
    pub nonblocking: Option<bool>,
}

impl Target {
    /// The description, when the descriptor works for I/O calls (`fdget`:
    /// neither closed nor `O_PATH`).
    fn io(self) -> Option<Description> {
        match self {
            Target::File(d) if !d.path_only => Some(d),
            _ => None,
        }
    }
}

/// Whether the kernel's `access_ok()` accepts a user range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Inside user space.
    Passes,
    /// A kernel address, or a length no address space has.
    Fails,
    /// A length close to the size of user space: depends on where the
    /// buffer is and on the architecture's `TASK_SIZE`.
    Either,
}

/// A user buffer: its `access_ok()` and how many bytes from its start can
/// be read and written before a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    pub len: usize,
    pub access: Access,
    pub readable: usize,
    pub writable: usize,
}

impl Buffer {
    /// Where `access_ok(ptr, len)` lands for a user pointer: a megabyte is
    /// always inside; `usize::MAX` never; lengths between depend.
    pub fn user_access(len: usize) -> Access {
        if len <= 1 << 20 {
            Access::Passes
        } else if len == usize::MAX {
            Access::Fails
        } else {
            Access::Either
        }
    }

    /// `rw_verify_area()`: a count that is negative as `ssize_t` is
    /// `EINVAL`, once `access_ok()` let it through.
    fn negative(&self) -> bool {
        self.len > isize::MAX as usize && self.access != Access::Fails
    }
}

/// `EAGAIN` and `EINTR` of a read that finds nothing unread.
fn nothing_unread(description: Description, allowed: Allowed) -> Allowed {
    match description.nonblocking {
        Some(true) => allowed.or(EAGAIN),
        Some(false) => allowed,
        None => allowed.or(EAGAIN),
    }
    // The wait, and the driver's interruptible mutex.
    .or(EINTR)
}

/// The description of `target` when it is open for `direction`; `EBADF`
/// (the kernel's answer for a closed fd or one opened the other way)
/// otherwise.
fn open_for(target: Target, direction: Direction) -> Result<Description, Allowed> {
    match target.io() {
        Some(description)
            if match direction {
                Direction::In => description.readable,
                Direction::Out => description.writable,
            } =>
        {
            Ok(description)
        }
        _ => Err(Allowed::error(EBADF)),
    }
}

/// Which way a transfer goes: into user memory (read) or out of it (write).
#[derive(Debug, Clone, Copy)]
enum Direction {
    In,
    Out,
}

/// `read(fd, buffer, buffer.len)` on a device of `buffer_size`.
pub fn read(target: Target, buffer: Buffer, buffer_size: usize) -> Allowed {
    match open_for(target, Direction::In) {
        Ok(description) => transfer_in(description, &[buffer], buffer_size),
        Err(allowed) => allowed,
    }
}

/// `write(fd, buffer, buffer.len)` on a device of `buffer_size`.
pub fn write(target: Target, buffer: Buffer, buffer_size: usize) -> Allowed {
    match open_for(target, Direction::Out) {
        Ok(_) => transfer_out(&[buffer], buffer_size),
        Err(allowed) => allowed,
    }
}

/// The iovec array of `readv`/`writev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Iovecs {
    /// A count the kernel rejects (negative, or above `UIO_MAXIOV`).
    BadCount,
    /// An array the kernel cannot read (`count` entries, at least one).
    Unreadable,
    Segments(Vec<Buffer>),
}

pub fn readv(target: Target, iovecs: &Iovecs, buffer_size: usize) -> Allowed {
    let description = match open_for(target, Direction::In) {
        Ok(description) => description,
        Err(allowed) => return allowed,
    };
    match segments(iovecs) {
        Err(allowed) => allowed,
        Ok(segments) => transfer_in(description, segments, buffer_size),
    }
}

pub fn writev(target: Target, iovecs: &Iovecs, buffer_size: usize) -> Allowed {
    if let Err(allowed) = open_for(target, Direction::Out) {
        return allowed;
    }
    match segments(iovecs) {
        Err(allowed) => allowed,
        Ok(segments) => transfer_out(segments, buffer_size),
    }
}

/// `import_iovec()`: the count, the array, then each length (negative as
/// `ssize_t`: `EINVAL`, for any entry, before any `access_ok()`).
fn segments(iovecs: &Iovecs) -> Result<&[Buffer], Allowed> {
    match iovecs {
        Iovecs::BadCount => Err(Allowed::error(EINVAL)),
        Iovecs::Unreadable => Err(Allowed::error(EFAULT)),
        Iovecs::Segments(segments) => {
            if segments.iter().any(|s| s.len > isize::MAX as usize) {
                return Err(Allowed::error(EINVAL));
            }
            Ok(segments)
        }
    }
}

/// `access_ok()` over every segment: fails when one fails, may fail when
/// one may (either way the call is `EFAULT` before anything is copied).
fn access(segments: &[Buffer]) -> Access {
    let any = |access| segments.iter().any(|s| s.access == access);
    if any(Access::Fails) {
        Access::Fails
    } else if any(Access::Either) {
        Access::Either
    } else {
        Access::Passes
    }
}

/// The total a vectored call asks for (the kernel caps it at
/// `MAX_RW_COUNT`, far above any buffer size here).
fn total(segments: &[Buffer]) -> usize {
    segments
        .iter()
        .fold(0usize, |sum, s| sum.saturating_add(s.len))
}

/// Bytes from the start of the segments that `usable` lets through
/// (readable or writable), up to the first that does not.
fn prefix(segments: &[Buffer], usable: impl Fn(&Buffer) -> usize) -> usize {
    let mut bytes = 0usize;
    for segment in segments {
        let room = usable(segment).min(segment.len);
        bytes = bytes.saturating_add(room);
        if room < segment.len {
            break;
        }
    }
    bytes
}

/// A read of one message into `segments`: 1 to min(asked, buffer_size)
/// bytes (the message's length is not known here), all copied or `EFAULT`.
fn transfer_in(description: Description, segments: &[Buffer], buffer_size: usize) -> Allowed {
    let asked = total(segments);
    let access = access(segments);
    if access == Access::Fails {
        return Allowed::error(EFAULT);
    }
    // A single buffer with a length that is negative as `ssize_t`.
    let negative = segments.len() == 1 && segments[0].negative();
    if asked == 0 {
        // Nothing asked for: 0 at once, nothing consumed.
        return Allowed::ok_exactly(0);
    }
    let most = asked.min(buffer_size);
    let fits = prefix(segments, |s| s.writable).min(most);
    let mut allowed = if fits >= 1 {
        Allowed::ok(1..=fits as i64)
    } else {
        Allowed {
            ok: None,
            errnos: Vec::new(),
        }
    };
    if fits < most {
        // A message longer than the writable part.
        allowed = allowed.or(EFAULT);
    }
    allowed = nothing_unread(description, allowed);
    if access == Access::Either {
        allowed = allowed.or(EFAULT);
    }
    if negative {
        allowed = allowed.or(EINVAL);
    }
    allowed
}

/// A write of `segments`: min(total, buffer_size) bytes, all copied, or
/// `EFAULT` with nothing changed.
fn transfer_out(segments: &[Buffer], buffer_size: usize) -> Allowed {
    let asked = total(segments);
    let access = access(segments);
    if access == Access::Fails {
        return Allowed::error(EFAULT);
    }
    let negative = segments.len() == 1 && segments[0].negative();
    if asked == 0 {
        return Allowed::ok_exactly(0);
    }
    let stored = asked.min(buffer_size);
    let mut allowed = if prefix(segments, |s| s.readable) >= stored {
        Allowed::ok_exactly(stored as i64)
    } else {
        Allowed::error(EFAULT)
    }
    // The driver's interruptible mutex.
    .or(EINTR);
    if access == Access::Either {
        allowed = allowed.or(EFAULT);
    }
    if negative {
        allowed = allowed.or(EINVAL);
    }
    allowed
}

/// The extra flags of `open` the fuzzer draws (the access mode aside).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenFlags {
    pub path: bool,
    pub directory: bool,
    pub create_exclusive: bool,
    pub direct: bool,
}

/// `open` of an existing device node, as root or a member of its group.
pub fn open(flags: OpenFlags) -> Allowed {
    if flags.path {
        // Every other flag but O_DIRECTORY and O_NOFOLLOW is dropped.
        return if flags.directory {
            Allowed::error(ENOTDIR)
        } else {
            Allowed::ok(0..=i64::from(i32::MAX))
        };
    }
    if flags.directory && flags.create_exclusive {
        // O_DIRECTORY | O_CREAT (build_open_flags).
        return Allowed::error(EINVAL);
    }
    if flags.create_exclusive {
        return Allowed::error(EEXIST);
    }
    if flags.directory {
        return Allowed::error(ENOTDIR);
    }
    // The driver's open waits for its mutex interruptibly.
    if flags.direct {
        // The device has no direct I/O.
        return Allowed::error(EINVAL).or(EINTR);
    }
    Allowed::ok(0..=i64::from(i32::MAX)).or(EINTR)
}

/// `pread`/`pwrite` at `offset`: never seekable.
pub fn positioned(target: Target, offset: i64) -> Allowed {
    if offset < 0 {
        return Allowed::error(EINVAL);
    }
    match target.io() {
        None => Allowed::error(EBADF),
        Some(_) => Allowed::error(ESPIPE),
    }
}

/// `lseek` with `whence`.
pub fn lseek(target: Target, whence: i32) -> Allowed {
    match target.io() {
        None => Allowed::error(EBADF),
        // SEEK_MAX is SEEK_HOLE (4).
        Some(_) if !(0..=4).contains(&whence) => Allowed::error(EINVAL),
        Some(_) => Allowed::error(ESPIPE),
    }
}

/// An `ioctl` number no layer handles for this file.
pub fn unknown_ioctl(target: Target) -> Allowed {
    match target.io() {
        None => Allowed::error(EBADF),
        Some(_) => Allowed::error(ENOTTY),
    }
}

/// `FIONBIO`/`FIOASYNC` (read an int at `arg`) and `FIOCLEX`/`FIONCLEX`.
pub fn generic_ioctl(target: Target, reads_arg: bool, arg: Option<Buffer>) -> Allowed {
    if target.io().is_none() {
        return Allowed::error(EBADF);
    }
    if !reads_arg {
        return Allowed::ok_exactly(0);
    }
    match arg {
        // A random number: an address that may or may not be mapped.
        None => Allowed::ok_exactly(0).or(EFAULT),
        Some(buffer) if buffer.access == Access::Passes && buffer.readable >= 4 => {
            Allowed::ok_exactly(0)
        }
        Some(buffer) if buffer.access == Access::Fails || buffer.readable == 0 => {
            Allowed::error(EFAULT)
        }
        Some(_) => Allowed::ok_exactly(0).or(EFAULT),
    }
}

/// `fcntl` commands, as the fuzzer makes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fcntl {
    /// F_SETFL with these flags: does it set O_DIRECT, O_NOATIME.
    SetFl { direct: bool, noatime: bool },
    /// F_SETOWN to this process (or its group), nobody, or no such pid.
    SetOwn { exists: bool },
    /// F_SETSIG with a signal number that is valid or not.
    SetSig { valid: bool },
    /// F_GETOWN_EX into a buffer.
    GetOwnEx(Buffer),
    /// F_SETOWN_EX from a buffer; its contents known (type, pid exists) or
    /// not.
    SetOwnEx(Buffer, Option<(i32, bool)>),
    /// F_GETFL, F_GETFD.
    GetFlags,
    /// F_GETOWN, F_GETSIG.
    GetOwner,
    /// F_SETLK, F_GETLK, F_OFD_SETLK with a record in a buffer.
    Lock(Buffer),
    /// F_SETLEASE (with an address as lease type), F_NOTIFY.
    LeaseOrNotify,
    /// F_DUPFD_CLOEXEC.
    Dup,
    /// F_SETPIPE_SZ: for pipes.
    PipeSize,
    /// F_ADD_SEALS: for memfds.
    AddSeals,
    /// A command number Linux does not have.
    Unknown,
}

pub fn fcntl(target: Target, command: Fcntl, root: bool) -> Allowed {
    let description = match target {
        Target::Closed => return Allowed::error(EBADF),
        Target::File(d) => d,
    };
    // O_PATH descriptors take only these (check_fcntl_cmd).
    if description.path_only && !matches!(command, Fcntl::GetFlags | Fcntl::Dup) {
        return Allowed::error(EBADF);
    }
    match command {
        Fcntl::SetFl { direct, noatime } => {
            if noatime && !root {
                // The node is root's: only its owner may set O_NOATIME.
                Allowed::error(EPERM).or(EINVAL)
            } else if direct {
                Allowed::error(EINVAL)
            } else {
                Allowed::ok_exactly(0)
            }
        }
        Fcntl::SetOwn { exists: true } => Allowed::ok_exactly(0),
        Fcntl::SetOwn { exists: false } => Allowed::error(ESRCH),
        Fcntl::SetSig { valid: true } => Allowed::ok_exactly(0),
        Fcntl::SetSig { valid: false } => Allowed::error(EINVAL),
        Fcntl::GetOwnEx(buffer) => {
            if buffer.access == Access::Passes && buffer.writable >= 8 {
                Allowed::ok_exactly(0)
            } else {
                Allowed::error(EFAULT)
            }
        }
        Fcntl::SetOwnEx(buffer, contents) => {
            if buffer.access != Access::Passes || buffer.readable < 8 {
                return Allowed::error(EFAULT);
            }
            match contents {
                // F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP.
                Some((kind, _)) if !(0..=2).contains(&kind) => Allowed::error(EINVAL),
                Some((_, true)) => Allowed::ok_exactly(0),
                Some((_, false)) => Allowed::error(ESRCH),
                None => Allowed::ok_exactly(0).or(EINVAL).or(ESRCH),
            }
        }
        Fcntl::GetFlags => Allowed::ok(0..=i64::from(i32::MAX)),
        // F_GETOWN of a process group is negative.
        Fcntl::GetOwner => Allowed::ok(i64::from(i32::MIN)..=i64::from(i32::MAX)),
        Fcntl::Lock(buffer) => {
            if buffer.access != Access::Passes || buffer.readable == 0 {
                return Allowed::error(EFAULT);
            }
            // A record of unknown contents: any lock call's answers; a
            // record running into a fault (EFAULT), a write lock on a file
            // not open for writing (EBADF), a conflict (EAGAIN, EACCES).
            Allowed::ok_exactly(0)
                .or(EFAULT)
                .or(EINVAL)
                .or(EBADF)
                .or(EAGAIN)
                .or(EACCES)
                .or(EOVERFLOW)
        }
        // Not a regular file, not a directory (or no dnotify at all); a
        // lease on a file of another owner needs CAP_LEASE.
        Fcntl::LeaseOrNotify if root => Allowed::error(EINVAL).or(ENOTDIR),
        Fcntl::LeaseOrNotify => Allowed::error(EINVAL).or(ENOTDIR).or(EACCES),
        Fcntl::Dup => Allowed::ok(0..=i64::from(i32::MAX)),
        Fcntl::PipeSize => Allowed::error(EBADF),
        // Sealing needs a file open for writing, then a memfd.
        Fcntl::AddSeals if !description.writable => Allowed::error(EPERM),
        Fcntl::AddSeals | Fcntl::Unknown => Allowed::error(EINVAL),
    }
}

/// `flock` operations, as the fuzzer makes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flock {
    SharedBlocking,
    ExclusiveNonblocking,
    Unlock,
    /// An operation with `LOCK_MAND` (99 has it): ignored, success, for any
    /// descriptor, before anything is looked at.
    Mandatory,
}

pub fn flock(target: Target, operation: Flock) -> Allowed {
    if operation == Flock::Mandatory {
        return Allowed::ok_exactly(0);
    }
    let Some(description) = target.io() else {
        return Allowed::error(EBADF);
    };
    match operation {
        Flock::Mandatory | Flock::Unlock => Allowed::ok_exactly(0),
        // A lock needs a file open for reading or writing.
        _ if !description.readable && !description.writable => Allowed::error(EBADF),
        Flock::SharedBlocking => Allowed::ok_exactly(0).or(EINTR),
        Flock::ExclusiveNonblocking => Allowed::ok_exactly(0).or(EAGAIN),
    }
}

/// `fsync`, `fdatasync` (the device has none) and `ftruncate` (not a
/// regular file).
pub fn sync_or_truncate(target: Target) -> Allowed {
    match target.io() {
        None => Allowed::error(EBADF),
        Some(_) => Allowed::error(EINVAL),
    }
}

/// `mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)`.
pub fn mmap_shared(target: Target) -> Allowed {
    match target.io() {
        None => Allowed::error(EBADF),
        Some(d) if !d.readable || !d.writable => Allowed::error(EACCES),
        // No mmap in the driver.
        Some(_) => Allowed::error(ENODEV),
    }
}

/// `dup`.
pub fn dup(target: Target) -> Allowed {
    match target {
        Target::Closed => Allowed::error(EBADF),
        Target::File(_) => Allowed::ok(0..=i64::from(i32::MAX)),
    }
}

/// `close` of a descriptor of this process.
pub fn close() -> Allowed {
    Allowed::ok_exactly(0)
}

/// `poll` of `count` entries: how many are ready, or `EFAULT` for an array
/// the kernel cannot read; `EINTR` for a signal (also with no timeout,
/// when nothing is ready).
pub fn poll(count: usize, array_readable: bool) -> Allowed {
    if !array_readable {
        return Allowed::error(EFAULT);
    }
    Allowed::ok(0..=count as i64).or(EINTR)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BS: usize = 256;

    fn file(readable: bool, writable: bool, nonblocking: Option<bool>) -> Target {
        Target::File(Description {
            readable,
            writable,
            path_only: false,
            nonblocking,
        })
    }

    fn valid(len: usize) -> Buffer {
        Buffer {
            len,
            access: Buffer::user_access(len),
            readable: BS + 4096,
            writable: BS + 4096,
        }
    }

    fn faulting(len: usize) -> Buffer {
        Buffer {
            len,
            access: Buffer::user_access(len),
            readable: 0,
            writable: 0,
        }
    }

    fn kernel(len: usize) -> Buffer {
        Buffer {
            len,
            access: Access::Fails,
            readable: 0,
            writable: 0,
        }
    }

    #[test]
    fn a_read_gives_a_message_or_waits() {
        let allowed = read(file(true, false, Some(true)), valid(100), BS);
        assert!(allowed.admits(Ok(1)) && allowed.admits(Ok(100)));
        assert!(!allowed.admits(Ok(0)) && !allowed.admits(Ok(101)));
        assert!(allowed.admits(Err(EAGAIN)) && allowed.admits(Err(EINTR)));
        assert!(!allowed.admits(Err(EFAULT)));
        let blocking = read(file(true, false, Some(false)), valid(100), BS);
        assert!(!blocking.admits(Err(EAGAIN)));
    }

    #[test]
    fn a_read_never_gives_more_than_the_buffer_size() {
        let allowed = read(file(true, true, Some(true)), valid(1 << 20), BS);
        assert!(allowed.admits(Ok(BS as i64)) && !allowed.admits(Ok(BS as i64 + 1)));
    }

    #[test]
    fn a_zero_length_read_is_zero_or_a_kernel_address() {
        assert_eq!(
            read(file(true, false, None), faulting(0), BS),
            Allowed::ok_exactly(0)
        );
        assert_eq!(
            read(file(true, false, None), kernel(0), BS),
            Allowed::error(EFAULT)
        );
    }

    #[test]
    fn bad_pointers_fault_or_fit_a_short_message() {
        let allowed = read(file(true, false, Some(true)), faulting(10), BS);
        assert!(allowed.admits(Err(EFAULT)) && allowed.ok.is_none());
        let write_from_null = write(file(false, true, None), faulting(10), BS);
        assert!(write_from_null.admits(Err(EFAULT)) && !write_from_null.admits(Ok(10)));
        let straddle = Buffer {
            len: 100,
            access: Access::Passes,
            readable: 8,
            writable: 0,
        };
        assert!(!write(file(true, true, None), straddle, BS).admits(Ok(100)));
        let short = Buffer { len: 8, ..straddle };
        assert_eq!(write(file(true, true, None), short, BS).ok, Some(8..=8));
    }

    #[test]
    fn a_write_stores_exactly_the_truncated_length() {
        let allowed = write(file(false, true, None), valid(1000), BS);
        assert_eq!(allowed.ok, Some(BS as i64..=BS as i64));
        assert!(!allowed.admits(Err(EFAULT)) && !allowed.admits(Err(EAGAIN)));
    }

    #[test]
    fn the_access_mode_and_o_path_decide_first() {
        assert_eq!(
            read(file(false, true, None), valid(10), BS),
            Allowed::error(EBADF)
        );
        let path = Target::File(Description {
            readable: true,
            writable: true,
            path_only: true,
            nonblocking: None,
        });
        for allowed in [
            read(path, valid(10), BS),
            write(path, valid(10), BS),
            unknown_ioctl(path),
            mmap_shared(path),
            lseek(path, 0),
            fcntl(path, Fcntl::SetSig { valid: true }, true),
        ] {
            assert_eq!(allowed, Allowed::error(EBADF));
        }
        assert!(fcntl(path, Fcntl::GetFlags, true).admits(Ok(0)));
    }

    #[test]
    fn huge_lengths_fault_and_negative_counts_are_invalid_where_they_pass() {
        assert_eq!(
            read(file(true, false, None), valid(usize::MAX), BS),
            Allowed::error(EFAULT)
        );
        let either = read(file(true, false, None), valid(1 << 31), BS);
        assert!(either.admits(Err(EFAULT)) && either.admits(Ok(BS as i64)));
        let iov = Iovecs::Segments(vec![valid(10), valid(usize::MAX)]);
        assert_eq!(
            readv(file(true, false, None), &iov, BS),
            Allowed::error(EINVAL)
        );
    }

    #[test]
    fn vectored_calls_fill_segments_in_order() {
        let iov = Iovecs::Segments(vec![valid(4), faulting(100), valid(100)]);
        let allowed = readv(file(true, false, Some(true)), &iov, BS);
        assert!(allowed.admits(Ok(4)) && !allowed.admits(Ok(5)));
        assert!(allowed.admits(Err(EFAULT)));
        let allowed = writev(file(true, true, None), &iov, BS);
        assert_eq!(allowed.ok, None);
        let empty = Iovecs::Segments(Vec::new());
        assert_eq!(
            writev(file(true, true, None), &empty, BS),
            Allowed::ok_exactly(0)
        );
        assert_eq!(
            readv(file(true, false, None), &Iovecs::BadCount, BS),
            Allowed::error(EINVAL)
        );
    }

    #[test]
    fn not_seekable_and_no_ioctls() {
        let f = file(true, true, None);
        assert_eq!(positioned(f, 0), Allowed::error(ESPIPE));
        assert_eq!(positioned(Target::Closed, -1), Allowed::error(EINVAL));
        assert_eq!(lseek(f, 99), Allowed::error(EINVAL));
        assert_eq!(lseek(f, 2), Allowed::error(ESPIPE));
        assert_eq!(unknown_ioctl(f), Allowed::error(ENOTTY));
        assert_eq!(mmap_shared(f), Allowed::error(ENODEV));
        assert_eq!(mmap_shared(file(true, false, None)), Allowed::error(EACCES));
    }

    #[test]
    fn fcntl_signals_and_owners() {
        let f = file(true, false, None);
        assert_eq!(
            fcntl(f, Fcntl::SetSig { valid: false }, true),
            Allowed::error(EINVAL)
        );
        assert!(fcntl(f, Fcntl::SetSig { valid: true }, true).admits(Ok(0)));
        assert_eq!(
            fcntl(f, Fcntl::SetOwn { exists: false }, true),
            Allowed::error(ESRCH)
        );
        assert_eq!(
            fcntl(
                f,
                Fcntl::SetFl {
                    direct: true,
                    noatime: false
                },
                true
            ),
            Allowed::error(EINVAL)
        );
        assert!(!fcntl(Target::Closed, Fcntl::GetFlags, true).admits(Ok(0)));
    }

    #[test]
    fn open_flags_in_the_kernels_order() {
        let both = OpenFlags {
            directory: true,
            create_exclusive: true,
            ..OpenFlags::default()
        };
        assert_eq!(open(both), Allowed::error(EINVAL));
        let path = OpenFlags {
            path: true,
            create_exclusive: true,
            direct: true,
            ..OpenFlags::default()
        };
        assert!(open(path).admits(Ok(3)));
        assert!(!open(OpenFlags::default()).admits(Err(EINVAL)));
    }
}
