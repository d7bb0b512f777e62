//! A minimal io_uring: waits for one descriptor to become ready with
//! `IORING_OP_POLL_ADD` (the bench's `asyncn-uring` peer), or reads from it
//! with `IORING_OP_READ` (the `nowait-read` case), one request at a time.
//! Raw system calls, no liburing.
//!
//! Memory safety rests on three things:
//! - The rings and SQEs are memory shared with the kernel, so this side
//!   touches them through atomics only (`shared::Atomic` views checked
//!   against the mappings' bounds), as sys does for all shared memory:
//!   no access races with the kernel's (or, after a `fork`, with another
//!   process sharing the ring).
//! - The kernel writes nowhere else: a poll request has no buffers, a read
//!   request's buffer is the ring's own page (read through atomics too,
//!   and never unmapped while a request may still write it), and the ring
//!   is set up without flags (no SQ thread, 64-byte SQEs, 16-byte CQEs, an
//!   SQ index array).
//! - A request never outlives the `poll_once` that borrowed its
//!   descriptor, except after a failure, when the ring is closed at once
//!   (see [`PollRing::poll_once`]).

use std::io;
use std::mem::{align_of, offset_of, size_of};
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering::*};

use nix::errno::Errno;
use nix::sys::mman::{mmap, mmap_anonymous, munmap, MapFlags, ProtFlags};

use super::shared::Atomic;

/// SQ entries asked for: one is in use at a time. The kernel makes the CQ
/// twice as long.
const ENTRIES: u32 = 4;

// include/uapi/linux/io_uring.h (Linux 6.12).
const IORING_OFF_SQ_RING: libc::off_t = 0;
const IORING_OFF_CQ_RING: libc::off_t = 0x800_0000;
const IORING_OFF_SQES: libc::off_t = 0x1000_0000;
const IORING_FEAT_SINGLE_MMAP: u32 = 1 << 0;
const IORING_ENTER_GETEVENTS: libc::c_uint = 1 << 0;
const IORING_OP_POLL_ADD: u8 = 6;
const IORING_OP_READ: u8 = 22;
/// The read buffer: one page at most (the smallest page size).
pub const READ_MAX: usize = 4096;

// The kernel's structs whole, for their layout: some fields go unread.

/// `struct io_sqring_offsets`: where the SQ ring's fields are.
#[repr(C)]
#[allow(dead_code)]
#[derive(Clone, Copy, Default)]
struct SqringOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    flags: u32,
    dropped: u32,
    array: u32,
    resv1: u32,
    user_addr: u64,
}

/// `struct io_cqring_offsets`: where the CQ ring's fields are.
#[repr(C)]
#[allow(dead_code)]
#[derive(Clone, Copy, Default)]
struct CqringOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    overflow: u32,
    cqes: u32,
    flags: u32,
    resv1: u32,
    user_addr: u64,
}

/// `struct io_uring_params`: zeroed in (no setup flags), filled in by
/// `io_uring_setup`.
#[repr(C)]
#[allow(dead_code)]
#[derive(Clone, Copy, Default)]
struct Params {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: SqringOffsets,
    cq_off: CqringOffsets,
}

/// `struct io_uring_sqe`, each union as the one member used or zeroed.
#[repr(C)]
#[allow(dead_code)]
#[derive(Default)]
struct Sqe {
    opcode: u8,
    flags: u8,
    ioprio: u16,
    fd: i32,
    off: u64,
    addr: u64,
    len: u32,
    /// The op-flags union: `poll32_events` for a poll.
    op_flags: u32,
    user_data: u64,
    buf_index: u16,
    personality: u16,
    splice_fd_in: i32,
    addr3: u64,
    pad2: u64,
}

/// `struct io_uring_cqe` (without `IORING_SETUP_CQE32`).
#[repr(C)]
#[allow(dead_code)] // `flags`: no IORING_CQE_F_* applies to a one-shot poll.
struct Cqe {
    user_data: u64,
    res: i32,
    flags: u32,
}

// The copies against the kernel's layout. Every `Sqe` field's offset is
// checked, and they follow each other: `Sqe` has no padding, which
// `Sqe::into_words` relies on.
const _: () = {
    assert!(size_of::<SqringOffsets>() == 40);
    assert!(offset_of!(SqringOffsets, array) == 24);
    assert!(offset_of!(SqringOffsets, user_addr) == 32);
    assert!(size_of::<CqringOffsets>() == 40);
    assert!(offset_of!(CqringOffsets, cqes) == 20);
    assert!(offset_of!(CqringOffsets, user_addr) == 32);
    assert!(size_of::<Params>() == 120);
    assert!(offset_of!(Params, features) == 20);
    assert!(offset_of!(Params, sq_off) == 40);
    assert!(offset_of!(Params, cq_off) == 80);
    assert!(size_of::<Sqe>() == 64);
    assert!(offset_of!(Sqe, opcode) == 0);
    assert!(offset_of!(Sqe, flags) == 1);
    assert!(offset_of!(Sqe, ioprio) == 2);
    assert!(offset_of!(Sqe, fd) == 4);
    assert!(offset_of!(Sqe, off) == 8);
    assert!(offset_of!(Sqe, addr) == 16);
    assert!(offset_of!(Sqe, len) == 24);
    assert!(offset_of!(Sqe, op_flags) == 28);
    assert!(offset_of!(Sqe, user_data) == 32);
    assert!(offset_of!(Sqe, buf_index) == 40);
    assert!(offset_of!(Sqe, personality) == 42);
    assert!(offset_of!(Sqe, splice_fd_in) == 44);
    assert!(offset_of!(Sqe, addr3) == 48);
    assert!(offset_of!(Sqe, pad2) == 56);
    assert!(size_of::<Cqe>() == 16 && size_of::<CqeWords>() == 16);
    assert!(offset_of!(Cqe, user_data) == 0);
    assert!(offset_of!(Cqe, res) == 8);
    assert!(offset_of!(Cqe, flags) == 12);
};

/// An SQE and a CQE in ring memory, as atomics.
type SqeWords = [AtomicU32; 16];
type CqeWords = [AtomicU32; 4];

impl Sqe {
    fn into_words(self) -> [u32; 16] {
        // SAFETY: `Sqe` is 64 bytes of integers without padding (checked
        // above), so its bytes are initialised and any `u32` is valid.
        unsafe { std::mem::transmute::<Sqe, [u32; 16]>(self) }
    }
}

impl Cqe {
    /// Reads a CQE the kernel has published, by the offsets checked
    /// above: `user_data` is its first two words, in memory order.
    fn read(words: &CqeWords) -> Cqe {
        let [a, b, res, flags] = words.each_ref().map(|w| w.load(Relaxed));
        let mut user_data = [0; 8];
        user_data[..4].copy_from_slice(&a.to_ne_bytes());
        user_data[4..].copy_from_slice(&b.to_ne_bytes());
        Cqe {
            user_data: u64::from_ne_bytes(user_data),
            res: res as i32,
            flags,
        }
    }
}

/// One `MAP_SHARED` mapping of the ring file, unmapped on drop.
struct Mapping {
    ptr: NonNull<libc::c_void>,
    len: usize,
}

impl Mapping {
    fn new(ring: BorrowedFd<'_>, offset: libc::off_t, len: usize) -> io::Result<Mapping> {
        let size = NonZeroUsize::new(len).ok_or_else(|| bad_layout("an empty ring"))?;
        // MAP_POPULATE: no page faults later, in the measured path.
        let flags = MapFlags::MAP_SHARED | MapFlags::MAP_POPULATE;
        let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a new mapping at an address the kernel picks aliases
        // nothing the program holds.
        let ptr = unsafe { mmap(None, size, prot, flags, ring, offset) }?;
        Ok(Mapping { ptr, len })
    }

    /// `len` bytes of zeroed memory of our own.
    fn anonymous(len: usize) -> io::Result<Mapping> {
        let size = NonZeroUsize::new(len).ok_or_else(|| bad_layout("an empty buffer"))?;
        let flags = MapFlags::MAP_PRIVATE | MapFlags::MAP_ANONYMOUS | MapFlags::MAP_POPULATE;
        let prot = ProtFlags::PROT_READ | ProtFlags::PROT_WRITE;
        // SAFETY: a new mapping at an address the kernel picks aliases
        // nothing the program holds.
        let ptr = unsafe { mmap_anonymous(None, size, prot, flags) }?;
        Ok(Mapping { ptr, len })
    }

    fn address(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// `count` `T`s at byte `offset`, checked to lie in the mapping.
    fn slice<T: Atomic>(&self, offset: u32, count: u32) -> io::Result<&[T]> {
        let (offset, count) = (offset as usize, count as usize);
        let end = count
            .checked_mul(size_of::<T>())
            .and_then(|bytes| bytes.checked_add(offset));
        match end {
            Some(end) if end <= self.len && offset % align_of::<T>() == 0 => {}
            _ => return Err(bad_layout("a ring field outside its mapping")),
        }
        // SAFETY: the range lies in the mapping, which lives as long as
        // `self`, and is aligned for `T` (the mapping is page-aligned).
        // `T` is atomics only, for which any bytes are valid and which the
        // kernel may read and write at the same time.
        Ok(unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>().add(offset).cast(), count)
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `new`, once; no reference into
        // it outlives `self` (`slice` borrows it).
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}

fn bad_layout(what: &str) -> io::Error {
    io::Error::other(format!("io_uring: {what} (unexpected ring layout)"))
}

/// The shared ring fields one request uses, borrowed from the mappings.
struct View<'a> {
    sq_head: &'a AtomicU32,
    sq_tail: &'a AtomicU32,
    sq_array: &'a [AtomicU32],
    sqes: &'a [SqeWords],
    cq_head: &'a AtomicU32,
    cq_tail: &'a AtomicU32,
    cqes: &'a [CqeWords],
}

/// A set-up ring. Fields drop in order: unmapped first, then closed.
struct Ring {
    sq_ring: Mapping,
    /// `None` with `IORING_FEAT_SINGLE_MMAP`: the CQ ring is in `sq_ring`.
    cq_ring: Option<Mapping>,
    sqes: Mapping,
    params: Params,
    sq_mask: u32,
    cq_mask: u32,
    user_data: u64,
    fd: OwnedFd,
}

impl Ring {
    fn new() -> io::Result<Ring> {
        let mut params = Params::default();
        // SAFETY: io_uring_setup reads and writes `params`, a valid
        // `struct io_uring_params`, and nothing else.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_io_uring_setup,
                ENTRIES as libc::c_uint,
                &mut params as *mut Params,
            )
        };
        let fd = Errno::result(ret)?;
        // SAFETY: a new descriptor (close-on-exec) that only we hold.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };

        // The lengths and offsets are the kernel's (io_uring_setup(2)).
        let (sq_off, cq_off) = (params.sq_off, params.cq_off);
        let length = |offset: u32, entries: u32, size: usize| {
            (entries as usize)
                .checked_mul(size)
                .and_then(|bytes| bytes.checked_add(offset as usize))
                .ok_or_else(|| bad_layout("a ring too long"))
        };
        let sq_len = length(sq_off.array, params.sq_entries, size_of::<u32>())?;
        let cq_len = length(cq_off.cqes, params.cq_entries, size_of::<CqeWords>())?;
        let sqes_len = length(0, params.sq_entries, size_of::<SqeWords>())?;
        // With a single mmap (Linux 5.4) both rings are one mapping at the
        // SQ ring's offset, as long as the longer of the two.
        let single = params.features & IORING_FEAT_SINGLE_MMAP != 0;
        let sq_ring = Mapping::new(
            fd.as_fd(),
            IORING_OFF_SQ_RING,
            if single { sq_len.max(cq_len) } else { sq_len },
        )?;
        let cq_ring = match single {
            true => None,
            false => Some(Mapping::new(fd.as_fd(), IORING_OFF_CQ_RING, cq_len)?),
        };
        let sqes = Mapping::new(fd.as_fd(), IORING_OFF_SQES, sqes_len)?;

        let cq_map = cq_ring.as_ref().unwrap_or(&sq_ring);
        let sq_mask = ring_mask(
            &sq_ring,
            sq_off.ring_mask,
            sq_off.ring_entries,
            params.sq_entries,
        )?;
        let cq_mask = ring_mask(
            cq_map,
            cq_off.ring_mask,
            cq_off.ring_entries,
            params.cq_entries,
        )?;
        let ring = Ring {
            sq_ring,
            cq_ring,
            sqes,
            params,
            sq_mask,
            cq_mask,
            user_data: 0,
            fd,
        };
        ring.view()?; // Checks every offset once; `poll` cannot fail on them.
        Ok(ring)
    }

    fn view(&self) -> io::Result<View<'_>> {
        let (sq, cq, p) = (&self.params.sq_off, &self.params.cq_off, &self.params);
        let cq_ring = self.cq_ring.as_ref().unwrap_or(&self.sq_ring);
        Ok(View {
            sq_head: &self.sq_ring.slice(sq.head, 1)?[0],
            sq_tail: &self.sq_ring.slice(sq.tail, 1)?[0],
            sq_array: self.sq_ring.slice(sq.array, p.sq_entries)?,
            sqes: self.sqes.slice(0, p.sq_entries)?,
            cq_head: &cq_ring.slice(cq.head, 1)?[0],
            cq_tail: &cq_ring.slice(cq.tail, 1)?[0],
            cqes: cq_ring.slice(cq.cqes, p.cq_entries)?,
        })
    }

    /// Submits the poll and waits for its completion: its `res`. An error
    /// means the request may still be in the kernel (or the SQ).
    fn poll(&mut self, fd: BorrowedFd<'_>, events: u32) -> io::Result<i32> {
        self.submit_and_wait(Sqe {
            opcode: IORING_OP_POLL_ADD,
            fd: fd.as_raw_fd(),
            // `poll32_events`, which the kernel swaps the halves of on
            // big-endian machines; `len` 0 makes it one-shot.
            op_flags: if cfg!(target_endian = "big") {
                events.rotate_left(16)
            } else {
                events
            },
            ..Sqe::default()
        })
    }

    /// Submits a read of up to `len` bytes of `fd` into `buffer` (at the
    /// file's position: offset -1) and waits for its completion: its
    /// `res`. An error means the request may still be in the kernel.
    fn read(&mut self, fd: BorrowedFd<'_>, buffer: &Mapping, len: u32) -> io::Result<i32> {
        self.submit_and_wait(Sqe {
            opcode: IORING_OP_READ,
            fd: fd.as_raw_fd(),
            off: u64::MAX,
            addr: buffer.address(),
            len: len.min(buffer.len as u32),
            ..Sqe::default()
        })
    }

    /// Queues `sqe` (with a new `user_data`), submits it and waits for its
    /// completion: its `res`.
    fn submit_and_wait(&mut self, sqe: Sqe) -> io::Result<i32> {
        self.user_data = self.user_data.wrapping_add(1);
        let user_data = self.user_data;
        let v = self.view()?;
        // The kernel's head reaching our tail means it took every SQE;
        // always so between calls, as one ends with its own completion.
        let tail = v.sq_tail.load(Relaxed); // Only this side writes it.
        if v.sq_head.load(Acquire) != tail {
            return Err(io::Error::other("io_uring: a submission still queued"));
        }
        let sqe = Sqe { user_data, ..sqe };
        let index = tail & self.sq_mask;
        for (word, value) in v.sqes[index as usize].iter().zip(sqe.into_words()) {
            word.store(value, Relaxed);
        }
        v.sq_array[index as usize].store(index, Relaxed);
        // Release: the kernel loads the tail with acquire before reading
        // the array entry and the SQE.
        v.sq_tail.store(tail.wrapping_add(1), Release);

        loop {
            let head = v.cq_head.load(Relaxed); // Only this side writes it.
            if head != v.cq_tail.load(Acquire) {
                let cqe = Cqe::read(&v.cqes[(head & self.cq_mask) as usize]);
                // Release: the kernel may reuse the slot once it sees this.
                v.cq_head.store(head.wrapping_add(1), Release);
                if cqe.user_data != user_data {
                    return Err(io::Error::other(
                        "io_uring: a completion of another request",
                    ));
                }
                return Ok(cqe.res);
            }
            // Submits the SQE if the kernel has not taken it yet (the first
            // time; it has after a wait), then waits for a completion.
            let to_submit = v
                .sq_tail
                .load(Relaxed)
                .wrapping_sub(v.sq_head.load(Acquire));
            match enter(self.fd.as_fd(), to_submit) {
                // Taken and waited for, or interrupted by a signal while
                // waiting: look at the CQ again.
                Ok(taken) if taken >= to_submit => {}
                Err(Errno::EINTR) => {}
                // Not taken without an error: no memory for the request.
                Ok(_) => return Err(Errno::EAGAIN.into()),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The mask the kernel wrote at `mask_at` for a ring of `entries`, which
/// indices are masked with: checked to be `entries - 1`, the length of the
/// ring's views, so a masked index is always in them.
fn ring_mask(map: &Mapping, mask_at: u32, entries_at: u32, entries: u32) -> io::Result<u32> {
    let mask = map.slice::<AtomicU32>(mask_at, 1)?[0].load(Relaxed);
    let written = map.slice::<AtomicU32>(entries_at, 1)?[0].load(Relaxed);
    match written == entries && entries.is_power_of_two() && mask == entries - 1 {
        true => Ok(mask),
        false => Err(bad_layout("a ring mask that is not its length minus one")),
    }
}

/// `io_uring_enter(ring, to_submit, 1, IORING_ENTER_GETEVENTS, NULL, 0)`:
/// how many SQEs the kernel took.
fn enter(ring: BorrowedFd<'_>, to_submit: u32) -> nix::Result<u32> {
    // SAFETY: without IORING_ENTER_EXT_ARG the last two arguments are a
    // signal mask and its size; a null one leaves the mask alone. The
    // kernel reads the SQ ring and SQEs, and writes the CQ ring, all of
    // which this side touches through atomics only.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            ring.as_raw_fd(),
            to_submit as libc::c_uint,
            1 as libc::c_uint,
            IORING_ENTER_GETEVENTS,
            std::ptr::null::<libc::sigset_t>(),
            0 as libc::size_t,
        )
    };
    Errno::result(ret).map(|taken| taken as u32)
}

/// One io_uring instance with a submission queue of a few entries, for
/// waiting on or reading one descriptor at a time.
///
/// Not to be shared between processes: a `fork`ed child's copy uses the
/// same ring, and two processes polling with it would take each other's
/// completions (failing the call; memory stays safe, see the module).
pub struct PollRing {
    ring: Option<Ring>,
    /// The read requests' buffer, made by the first read.
    buffer: Option<Mapping>,
}

impl PollRing {
    /// A new ring. Fails, with the system call's error, where there is no
    /// io_uring (ENOSYS) or it is forbidden (EPERM: sysctl
    /// `kernel.io_uring_disabled`, a seccomp filter).
    pub fn new() -> io::Result<PollRing> {
        Ok(PollRing {
            ring: Some(Ring::new()?),
            buffer: None,
        })
    }

    /// Reads up to `len` bytes (at most [`READ_MAX`]) from `fd` with one
    /// `IORING_OP_READ` and returns them; a failed read is its error.
    /// io_uring first tries the read without waiting (`IOCB_NOWAIT`) when
    /// the file allows it, and otherwise hands it to a worker thread.
    ///
    /// Returns once the request's completion is taken. If anything goes
    /// wrong before that, the ring is closed as for [`Self::poll_once`],
    /// and the buffer is left mapped for good: the cancelled request may
    /// still be writing it.
    pub fn read_once(&mut self, fd: BorrowedFd<'_>, len: usize) -> io::Result<Vec<u8>> {
        let ring = self
            .ring
            .as_mut()
            .ok_or_else(|| io::Error::other("io_uring: the ring was closed after an error"))?;
        let buffer = match self.buffer.take() {
            Some(buffer) => buffer,
            None => Mapping::anonymous(READ_MAX)?,
        };
        let len = len.min(READ_MAX) as u32;
        match ring.read(fd, &buffer, len) {
            Ok(res) if res < 0 => {
                self.buffer = Some(buffer);
                Err(io::Error::from_raw_os_error(res.wrapping_neg()))
            }
            Ok(n) => {
                let bytes = buffer.slice::<AtomicU8>(0, (n as u32).min(len))?;
                let data = bytes.iter().map(|b| b.load(Relaxed)).collect();
                self.buffer = Some(buffer);
                Ok(data)
            }
            Err(e) => {
                self.ring = None;
                std::mem::forget(buffer);
                Err(e)
            }
        }
    }

    /// Waits until `fd` has one of `events` (`POLLIN`, ... as `u32`) with a
    /// one-shot `IORING_OP_POLL_ADD`, and returns the ready mask (which
    /// may also hold `POLLERR`/`POLLHUP`); a failed poll is its error.
    /// Signals do not end the wait (`EINTR` is retried).
    ///
    /// Returns only once the request's completion is taken, so the kernel
    /// holds no request on `fd` after the borrow ends. If anything goes
    /// wrong before that (an `io_uring_enter` error but `EINTR`, an
    /// unexpected completion), the request may still be queued or in
    /// flight: the ring is then closed before returning the error, which
    /// cancels it, and every later call fails. The kernel took its own
    /// reference to the file behind `fd` when the request was submitted
    /// (inline in our `io_uring_enter`: no link, drain or async flag), so
    /// such a request can never act on another file given the number later.
    pub fn poll_once(&mut self, fd: BorrowedFd<'_>, events: u32) -> io::Result<u32> {
        let ring = self
            .ring
            .as_mut()
            .ok_or_else(|| io::Error::other("io_uring: the ring was closed after an error"))?;
        match ring.poll(fd, events) {
            Ok(res) if res < 0 => Err(io::Error::from_raw_os_error(res.wrapping_neg())),
            Ok(mask) => Ok(mask as u32),
            Err(e) => {
                self.ring = None;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring, or `None` (and why on stderr) where io_uring is missing or
    /// forbidden, as in containers whose seccomp profile blocks it.
    fn ring_or_skip() -> Option<PollRing> {
        match PollRing::new() {
            Ok(ring) => Some(ring),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                eprintln!("io_uring unavailable ({e}): test not run");
                None
            }
            Err(e) => panic!("io_uring setup: {e}"),
        }
    }

    #[test]
    fn uring_poll_reports_a_pipe_with_data_readable() {
        let Some(mut ring) = ring_or_skip() else {
            return;
        };
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&write_end, b"x").unwrap();
        let mask = ring
            .poll_once(read_end.as_fd(), libc::POLLIN as u32)
            .unwrap();
        eprintln!("uring poll of a pipe with data: mask {mask:#x}");
        assert_ne!(mask & libc::POLLIN as u32, 0);
    }

    #[test]
    fn uring_read_takes_what_a_pipe_holds() {
        let Some(mut ring) = ring_or_skip() else {
            return;
        };
        let (read_end, write_end) = nix::unistd::pipe().unwrap();
        for round in 0..3 {
            nix::unistd::write(&write_end, b"hello ring").unwrap();
            let data = ring.read_once(read_end.as_fd(), 5).unwrap();
            assert_eq!(data, b"hello", "round {round}");
            let data = ring.read_once(read_end.as_fd(), READ_MAX).unwrap();
            assert_eq!(data, b" ring", "round {round}");
        }
    }

    /// More requests than SQ and CQ entries: the indices wrap around.
    #[test]
    fn uring_poll_reports_a_pipe_writable_request_after_request() {
        let Some(mut ring) = ring_or_skip() else {
            return;
        };
        let (_read_end, write_end) = nix::unistd::pipe().unwrap();
        for _ in 0..5 * ENTRIES {
            let mask = ring
                .poll_once(write_end.as_fd(), libc::POLLOUT as u32)
                .unwrap();
            assert_ne!(mask & libc::POLLOUT as u32, 0, "mask {mask:#x}");
        }
    }
}
