//! `asyncn-test fuzz`: random system calls with random arguments against
//! the devices, reproducible from a seed.
//!
//! Each worker process (in its own process group, so that signals it
//! directs at "its group" reach no one else) runs calls drawn from: open
//! with random flags, read/write/readv/writev with pointers that are
//! valid, NULL, `PROT_NONE`, read-only, kernel addresses or straddling
//! into an unmapped page, and lengths from 0 to `usize::MAX`; pread,
//! pwrite and lseek at random offsets; random ioctl numbers and the
//! generic ones the VFS handles itself; fcntl with random flags, owners
//! and signals; poll with random events; mmap, fsync, dup, close. Every
//! result must be success or one of the errors that call may give;
//! a timer interrupts any call that would block. Afterwards the same
//! checks as the stress run: nothing left open, buffers freed, devices
//! working; the guest runner catches any kernel report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use crate::after_run;
use crate::cases::{CaseResult, Context};
use crate::device::node_paths;
use crate::module::{inaccessible_page, InaccessiblePage};
use crate::proc::{reap, spawn};
use crate::rng::Rng;
use crate::rtsig;
use crate::shared::{Shared, ZeroedAtomics};
use crate::stress::{RunOptions, MAX_DEVICES};
use crate::tap::Tap;

const MAX_FDS: usize = 8;
const CALL_TIMER: Duration = Duration::from_millis(10);
const PRINT_LIMIT: u64 = 10;

#[repr(C)]
struct Board {
    stop: AtomicU32,
    calls: AtomicU64,
    succeeded: AtomicU64,
    faults: AtomicU64,
    violations: AtomicU64,
}

// SAFETY: atomics only.
unsafe impl ZeroedAtomics for Board {}

pub fn run(ctx: &Context, tap: &mut Tap, options: &RunOptions) -> CaseResult {
    let buffer_size = ctx.params.buffer_size;
    let paths = node_paths(&ctx.device, ctx.params.devices, MAX_DEVICES);
    let devices = paths.len();
    tap.note(format!(
        "fuzz: seed {}, {} processes, {} s, {devices} device(s)",
        options.seed, options.procs, options.seconds
    ));
    let before = after_run::Baseline::read(&paths)?;
    let board: Shared<Board> = Shared::new()?;
    let mut workers = Vec::new();
    for id in 0..options.procs as u64 {
        let seed = Rng::derive(options.seed, id);
        let (paths, board) = (&paths, &*board);
        workers.push(spawn(move || {
            Fuzzer::run(id, seed, paths, buffer_size, board)
        })?);
    }
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    board.stop.store(1, SeqCst);
    let mut ended = 0;
    for pid in workers {
        match reap(pid, Duration::from_secs(10)) {
            Some(0) => ended += 1,
            other => eprintln!("fuzz: worker {pid} did not end cleanly: {other:?}"),
        }
    }
    let calls = board.calls.load(SeqCst);
    tap.note(format!(
        "fuzz: {calls} calls: {} succeeded, {} failed with EFAULT, the rest with another expected error",
        board.succeeded.load(SeqCst),
        board.faults.load(SeqCst)
    ));
    tap.check(
        calls > 0 && board.faults.load(SeqCst) > 0,
        format!("the run made calls ({calls}), bad pointers among them"),
    );
    let violations = board.violations.load(SeqCst);
    tap.check(
        violations == 0,
        format!(
            "every call gave success or an error it may give: {violations} did not (seed {})",
            options.seed
        ),
    );
    tap.check(
        ended == options.procs,
        format!(
            "every worker survived and stopped when told ({ended} of {})",
            options.procs
        ),
    );
    after_run::check(tap, "fuzz", &paths, &before, None, buffer_size)
}

/// Pointer arguments: (name, address, bytes valid there).
struct Pointers {
    valid: Vec<u8>,
    guard: InaccessiblePage,
    read_only: usize,
    straddle: usize,
    page: usize,
}

impl Pointers {
    fn new(buffer_size: usize) -> std::io::Result<Self> {
        let guard = inaccessible_page()?;
        let page = page_size();
        // A read-only page right before nothing in particular: writes into
        // it from the kernel fault.
        // SAFETY: a fresh anonymous mapping aliases nothing.
        let read_only = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if read_only == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // The second page of the pair becomes inaccessible: a buffer that
        // starts readable and runs into it.
        // SAFETY: the range belongs to the mapping just made.
        unsafe {
            libc::mprotect(
                read_only.cast::<u8>().add(page).cast(),
                page,
                libc::PROT_NONE,
            )
        };
        Ok(Self {
            valid: vec![0x5a; buffer_size + page],
            guard,
            read_only: read_only as usize,
            straddle: read_only as usize + page - 8,
            page,
        })
    }

    /// A pointer and a fitting length, or a bad one. Returns (pointer,
    /// length, whether the kernel can only fail with EFAULT or succeed
    /// short of the bad part).
    fn pick(&mut self, rng: &mut Rng, for_write_into: bool) -> (usize, usize, &'static str) {
        let valid = self.valid.as_mut_ptr() as usize;
        let kernel: usize = if cfg!(target_pointer_width = "64") {
            0xffff_ff80_0000_0000_u64 as usize
        } else {
            0xc000_0000
        };
        let len = match rng.below(8) {
            0 => 0,
            1 => 1,
            2 => rng.index(self.valid.len()),
            3 => self.valid.len(),
            4 => usize::MAX,
            5 => isize::MAX as usize,
            6 => 1 << 31,
            _ => rng.index(1 << 20),
        };
        let (ptr, what) = match rng.below(9) {
            0..=2 => (valid + rng.index(8), "valid"),
            3 => (0, "NULL"),
            4 => (self.guard.as_ptr() as usize, "PROT_NONE"),
            5 => (kernel, "kernel address"),
            6 => (self.straddle, "straddling into PROT_NONE"),
            7 if for_write_into => (self.read_only, "read-only"),
            7 => (self.read_only, "read-only (readable)"),
            // Anywhere in kernel space: a random user address could land
            // in this process's own memory and let `read` overwrite it.
            _ => (
                kernel.wrapping_add(rng.next_u64() as usize % (usize::MAX - kernel))
                    & !(self.page - 1),
                "random kernel address",
            ),
        };
        (ptr, len, what)
    }
}

/// `fcntl` as the bare system call, for the commands that take a pointer:
/// 32-bit glibc converts the lock record of `F_GETLK`/`F_SETLK` in user
/// space, dereferencing the fuzzed pointer itself (a crash of the fuzzer,
/// not a test of the kernel). The others go through libc, which also
/// tells a negative `F_GETOWN` owner from an error.
///
/// # Safety
///
/// As for `fcntl(2)`: the kernel validates `arg` when it is a pointer.
unsafe fn raw_fcntl(fd: i32, cmd: i32, arg: usize) -> isize {
    // SAFETY: per the function's contract.
    unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, arg) as isize }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

struct Fuzzer<'a> {
    id: u64,
    rng: Rng,
    paths: &'a [PathBuf],
    board: &'a Board,
    fds: Vec<i32>,
    pointers: Pointers,
    printed: u64,
    step: u64,
}

/// Signals a fuzzed `F_SETSIG` may pick; all blocked in the worker.
fn fuzz_signals() -> [i32; 5] {
    [
        0,
        libc::SIGIO,
        libc::SIGUSR1,
        rtsig::rt_signal(5),
        libc::SIGRTMAX(),
    ]
}

impl Fuzzer<'_> {
    fn run(id: u64, seed: u64, paths: &[PathBuf], buffer_size: usize, board: &Board) -> i32 {
        // Own process group: F_SETOWN to "my group" reaches only us.
        // SAFETY: setpgid on ourselves.
        unsafe { libc::setpgid(0, 0) };
        let signals = fuzz_signals();
        if let Err(e) = rtsig::prepare_worker(&signals[1..]) {
            eprintln!("fuzz: worker {id}: signal setup: {e}");
            return 1;
        }
        let pointers = match Pointers::new(buffer_size) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("fuzz: worker {id}: mappings: {e}");
                return 1;
            }
        };
        let mut fuzzer = Fuzzer {
            id,
            rng: Rng::new(seed),
            paths,
            board,
            fds: Vec::new(),
            pointers,
            printed: 0,
            step: 0,
        };
        while board.stop.load(SeqCst) == 0 {
            fuzzer.step += 1;
            fuzzer.one_call();
            // Queued signals from fuzzed subscriptions: take them so they
            // do not pile up.
            while rtsig::take_pending(&signals[1..]).is_some() {}
        }
        for fd in fuzzer.fds.drain(..) {
            // SAFETY: closes descriptors this worker opened.
            unsafe { libc::close(fd) };
        }
        0
    }

    fn fd(&mut self) -> i32 {
        if self.fds.is_empty() || self.rng.chance(3) {
            // Closed, negative or never-opened descriptors.
            return self.rng.pick(&[-1, 999, i32::MAX]);
        }
        self.fds[self.rng.index(self.fds.len())]
    }

    /// Judges one call's result: `Ok` or one of `allowed`.
    fn judge(&mut self, call: &str, ret: isize, allowed: &[Errno]) {
        self.board.calls.fetch_add(1, SeqCst);
        if ret >= 0 {
            self.board.succeeded.fetch_add(1, SeqCst);
            return;
        }
        let e = Errno::last();
        if e == Errno::EFAULT {
            self.board.faults.fetch_add(1, SeqCst);
        }
        if !allowed.contains(&e) && e != Errno::EINTR {
            self.board.violations.fetch_add(1, SeqCst);
            self.printed += 1;
            if self.printed <= PRINT_LIMIT {
                crate::tap::report(format!(
                    "fuzz: worker {} step {}: {call}: unexpected {e}",
                    self.id, self.step
                ));
            }
        }
    }

    fn one_call(&mut self) {
        use Errno::*;
        rtsig::arm_timer(CALL_TIMER);
        match self.rng.below(16) {
            0 | 1 => self.open(),
            2 => {
                if !self.fds.is_empty() && self.rng.chance(50) {
                    let fd = self.fds.swap_remove(self.rng.index(self.fds.len()));
                    // SAFETY: closes a descriptor this worker owns.
                    let r = unsafe { libc::close(fd) };
                    self.judge("close", r as isize, &[]);
                } else {
                    let fd = self.fd();
                    // SAFETY: dup has no memory-safety preconditions.
                    let r = unsafe { libc::dup(fd) };
                    if r >= 0 {
                        self.keep(r);
                    }
                    self.judge("dup", r as isize, &[EBADF, EMFILE]);
                }
            }
            3 | 4 => {
                let fd = self.fd();
                let (ptr, len, what) = self.pointers.pick(&mut self.rng, true);
                // SAFETY: the kernel validates the user pointer; this
                // process never touches what it points at.
                let r = unsafe { libc::read(fd, ptr as *mut libc::c_void, len) };
                self.judge(
                    &format!("read({fd}, {what}, {len})"),
                    r,
                    &[EFAULT, EAGAIN, EBADF, EINVAL],
                );
            }
            5 | 6 => {
                let fd = self.fd();
                let (ptr, len, what) = self.pointers.pick(&mut self.rng, false);
                // SAFETY: as for read.
                let r = unsafe { libc::write(fd, ptr as *const libc::c_void, len) };
                self.judge(
                    &format!("write({fd}, {what}, {len})"),
                    r,
                    &[EFAULT, EBADF, EINVAL],
                );
            }
            7 => self.vectored(),
            8 => {
                let fd = self.fd();
                let offset = self.rng.pick(&[0, 1, -1, 4096, i32::MAX]) as libc::off_t;
                let (ptr, len, _) = self.pointers.pick(&mut self.rng, true);
                let (r, call) = match self.rng.below(3) {
                    // SAFETY: the kernel validates the arguments.
                    0 => (
                        unsafe { libc::pread(fd, ptr as *mut _, len, offset) },
                        "pread",
                    ),
                    // SAFETY: as above.
                    1 => (
                        unsafe { libc::pwrite(fd, ptr as *const _, len, offset) },
                        "pwrite",
                    ),
                    // SAFETY: lseek has no memory-safety preconditions.
                    _ => (
                        unsafe { libc::lseek(fd, offset, self.rng.pick(&[0, 1, 2, 3, 4, 99])) }
                            as isize,
                        "lseek",
                    ),
                };
                self.judge(call, r, &[ESPIPE, EINVAL, EBADF, EFAULT]);
            }
            9 | 10 => self.ioctl(),
            11 | 12 => self.fcntl(),
            13 => self.poll(),
            14 => {
                let fd = self.fd();
                // SAFETY: a failed or successful mapping of the device is
                // not touched; a successful one is unmapped.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        4096,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED,
                        fd,
                        0,
                    )
                };
                if p != libc::MAP_FAILED {
                    // SAFETY: unmaps what was just mapped.
                    unsafe { libc::munmap(p, 4096) };
                    self.judge("mmap of the device succeeded", -1, &[]);
                } else {
                    self.judge("mmap", -1, &[ENODEV, EBADF, EACCES]);
                }
            }
            _ => {
                let fd = self.fd();
                // SAFETY: these calls take only a descriptor (and a length).
                let (r, call) = match self.rng.below(4) {
                    0 => (unsafe { libc::fsync(fd) }, "fsync"),
                    1 => (unsafe { libc::ftruncate(fd, 0) }, "ftruncate"),
                    2 => (
                        unsafe {
                            libc::flock(
                                fd,
                                self.rng.pick(&[
                                    libc::LOCK_SH,
                                    libc::LOCK_EX | libc::LOCK_NB,
                                    libc::LOCK_UN,
                                    99,
                                ]),
                            )
                        },
                        "flock",
                    ),
                    _ => (unsafe { libc::fdatasync(fd) }, "fdatasync"),
                };
                self.judge(call, r as isize, &[EINVAL, EBADF, EROFS, EAGAIN]);
            }
        }
        rtsig::arm_timer(Duration::ZERO);
    }

    fn keep(&mut self, fd: i32) {
        if self.fds.len() >= MAX_FDS {
            let old = self.fds.swap_remove(0);
            // SAFETY: closes a descriptor this worker owns.
            unsafe { libc::close(old) };
        }
        self.fds.push(fd);
    }

    fn open(&mut self) {
        use Errno::*;
        let path = &self.paths[self.rng.index(self.paths.len())];
        let Ok(path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
            return;
        };
        // Access mode 0..=3 (3: neither read nor write) and random extras.
        let mut flags = self.rng.below(4) as i32 | libc::O_CLOEXEC;
        for extra in [
            libc::O_NONBLOCK,
            libc::O_APPEND,
            libc::O_ASYNC,
            libc::O_SYNC,
            libc::O_NOCTTY,
            libc::O_TRUNC,
            libc::O_DIRECTORY,
            libc::O_CREAT | libc::O_EXCL,
            libc::O_PATH,
            libc::O_NOFOLLOW,
            libc::O_DIRECT,
        ] {
            if self.rng.chance(10) {
                flags |= extra;
            }
        }
        // SAFETY: `path` is NUL-terminated; the mode argument is read for O_CREAT only.
        let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600) };
        if fd >= 0 {
            self.keep(fd);
        }
        self.judge(
            &format!("open(flags {flags:#o})"),
            fd as isize,
            &[ENOTDIR, EEXIST, EINVAL],
        );
    }

    fn vectored(&mut self) {
        use Errno::*;
        let fd = self.fd();
        let count = self.rng.pick(&[0usize, 1, 2, 3]);
        let mut iov = Vec::with_capacity(count);
        for _ in 0..count {
            let (ptr, len, _) = self.pointers.pick(&mut self.rng, true);
            iov.push(libc::iovec {
                iov_base: ptr as *mut libc::c_void,
                iov_len: len,
            });
        }
        let iovcnt = self.rng.pick(&[count as i32, count as i32, -1, 1025]);
        let (iov_ptr, iovcnt) = if self.rng.chance(10) {
            (
                self.pointers.guard.as_ptr() as *const libc::iovec,
                iovcnt.max(1),
            )
        } else if iovcnt > count as i32 || iovcnt < 0 {
            // More entries than the array holds: keep the count invalid
            // (EINVAL) rather than hand the kernel a short array.
            (iov.as_ptr(), if iovcnt < 0 { -1 } else { 1025 })
        } else {
            (iov.as_ptr(), iovcnt)
        };
        let write = self.rng.chance(50);
        // SAFETY: `iov_ptr` is either `iov` with at most its length, or an
        // inaccessible page the kernel fails to read (EFAULT); counts above
        // the kernel's limit are rejected before the array is read.
        let r = unsafe {
            if write {
                libc::writev(fd, iov_ptr, iovcnt)
            } else {
                libc::readv(fd, iov_ptr, iovcnt)
            }
        };
        self.judge(
            if write { "writev" } else { "readv" },
            r,
            &[EFAULT, EINVAL, EBADF, EAGAIN],
        );
    }

    fn ioctl(&mut self) {
        use Errno::*;
        let fd = self.fd();
        let (arg, _, _) = self.pointers.pick(&mut self.rng, true);
        let arg = if self.rng.chance(30) {
            self.rng.next_u64() as usize
        } else {
            arg
        };
        if self.rng.chance(25) {
            // The generic ones the VFS answers itself, with any argument.
            let request =
                self.rng
                    .pick(&[libc::FIONBIO, libc::FIOASYNC, libc::FIOCLEX, libc::FIONCLEX]);
            // SAFETY: the kernel validates `arg` as a user pointer.
            let r = unsafe { libc::ioctl(fd, request as _, arg) };
            self.judge(
                &format!("ioctl({request:#x})"),
                r as isize,
                &[EFAULT, EBADF],
            );
            return;
        }
        // Random numbers outside the types the VFS or file systems handle
        // for any file (0x00 FIGETBSZ, 0x15 FS_IOC_GETFSUUID, 'T' FIO*,
        // 'X' FIFREEZE, 'f' FS_IOC_*FLAGS, 0x94 FICLONE): the device
        // itself has no ioctls, so these are all ENOTTY.
        let request = loop {
            let request = self.rng.next_u64() as u32;
            let kind = (request >> 8) & 0xff;
            if ![0x00, 0x15, 0x54, 0x58, 0x66, 0x94].contains(&kind) {
                break request;
            }
        };
        // SAFETY: no ioctl of these types exists for this file; the kernel
        // validates `arg` if anything looks at it.
        let r = unsafe { libc::ioctl(fd, request as _, arg) };
        self.judge(
            &format!("ioctl({request:#x})"),
            r as isize,
            &[ENOTTY, EBADF],
        );
    }

    fn fcntl(&mut self) {
        use Errno::*;
        let fd = self.fd();
        let me = std::process::id() as i32;
        let (ptr, _, _) = self.pointers.pick(&mut self.rng, true);
        let (r, call) = match self.rng.below(7) {
            0 => {
                let flags = self.rng.next_u64() as i32;
                // SAFETY: F_SETFL takes an int.
                (
                    unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } as isize,
                    "F_SETFL",
                )
            }
            1 => {
                // Only owners that direct signals at this worker: itself,
                // its own group, nobody, or a pid that does not exist.
                let owner = self.rng.pick(&[me, -me, 0, 0x3fff_fff0]);
                // SAFETY: F_SETOWN takes an int.
                (
                    unsafe { libc::fcntl(fd, libc::F_SETOWN, owner) } as isize,
                    "F_SETOWN",
                )
            }
            2 => {
                let valid = self.rng.pick(&fuzz_signals());
                let signal = self.rng.pick(&[valid, valid, -1, 65, 1000]);
                // SAFETY: F_SETSIG takes an int.
                (unsafe { libc::fcntl(fd, 10, signal) } as isize, "F_SETSIG")
            }
            3 => {
                let ptr = if self.rng.chance(50) {
                    self.pointers.valid.as_mut_ptr() as usize
                } else {
                    ptr
                };
                if ptr == self.pointers.valid.as_mut_ptr() as usize {
                    // A well-formed or random owner record.
                    let kind = self.rng.pick(&[0i32, 1, 2, 7]);
                    let pid = self.rng.pick(&[me, 0, 0x3fff_fff0]);
                    self.pointers.valid[..4].copy_from_slice(&kind.to_ne_bytes());
                    self.pointers.valid[4..8].copy_from_slice(&pid.to_ne_bytes());
                }
                // F_SETOWN_EX, F_GETOWN_EX (the same on every Linux architecture).
                let cmd = self.rng.pick(&[15, 16]);
                // SAFETY: the kernel validates the record pointer.
                (unsafe { raw_fcntl(fd, cmd, ptr) }, "F_[GS]ETOWN_EX")
            }
            4 => {
                let cmd = self
                    .rng
                    .pick(&[libc::F_GETFL, libc::F_GETOWN, 11, libc::F_GETFD]);
                // SAFETY: these take no argument.
                (unsafe { libc::fcntl(fd, cmd) } as isize, "F_GET*")
            }
            5 => {
                let cmd = self.rng.pick(&[
                    libc::F_SETLK,
                    libc::F_GETLK,
                    libc::F_OFD_SETLK,
                    libc::F_SETLEASE,
                    libc::F_NOTIFY,
                ]);
                // SAFETY: the kernel validates the lock record pointer.
                (
                    unsafe { raw_fcntl(fd, cmd, ptr) },
                    "F_SETLK/F_GETLK/F_SETLEASE/F_NOTIFY",
                )
            }
            _ => {
                let cmd = self.rng.pick(&[
                    libc::F_DUPFD_CLOEXEC,
                    libc::F_SETPIPE_SZ,
                    libc::F_ADD_SEALS,
                    9999,
                ]);
                // SAFETY: int arguments.
                let r = unsafe { libc::fcntl(fd, cmd, 10) } as isize;
                if cmd == libc::F_DUPFD_CLOEXEC && r >= 0 {
                    self.keep(r as i32);
                }
                (r, "F_DUPFD/F_SETPIPE_SZ/F_ADD_SEALS/unknown")
            }
        };
        self.judge(
            call,
            r,
            &[
                EINVAL, EFAULT, EBADF, ESRCH, EPERM, ENOTDIR, EAGAIN, EACCES, ENOLCK, EBUSY,
                EOVERFLOW,
            ],
        );
    }

    fn poll(&mut self) {
        use Errno::*;
        let count = 1 + self.rng.index(3);
        let mut fds: Vec<libc::pollfd> = (0..count)
            .map(|_| libc::pollfd {
                fd: 0,
                events: self.rng.next_u64() as i16,
                revents: 0,
            })
            .collect();
        for pfd in &mut fds {
            pfd.fd = self.fd();
        }
        let bad = self.rng.chance(10);
        let ptr = if bad {
            self.pointers.guard.as_ptr() as *mut libc::pollfd
        } else {
            fds.as_mut_ptr()
        };
        // SAFETY: `ptr` is `fds` with its length, or an inaccessible page
        // the kernel fails to read.
        let r = unsafe { libc::poll(ptr, count as libc::nfds_t, self.rng.pick(&[0, 1])) };
        self.judge("poll", r as isize, &[EFAULT, EINVAL]);
    }
}
