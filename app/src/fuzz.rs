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
//! result must be one of the outcomes `oracle` allows for that call with
//! those arguments, successes included; a timer interrupts any call that
//! would block. Afterwards the same
//! checks as the stress run: nothing left open, buffers freed, devices
//! working; the guest runner catches any kernel report (checks R19, R28,
//! R30).

use std::cell::RefCell;
use std::fmt;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use crate::after_run;
use crate::device::node_paths;
use crate::harness::Tap;
use crate::harness::{CaseResult, Context};
use crate::oracle;
use crate::proc::Workers;
use crate::rng::Rng;
use crate::stress::{RunOptions, MAX_DEVICES};
use crate::sys::fuzzed::{self as calls, Arena, Fd, FuzzFile, GetFcntl, IntFcntl, NotOpen, Ptr};
use crate::sys::rtsig;
use crate::sys::shared::{zeroed_atomics, Shared};

const MAX_FDS: usize = 8;
const CALL_TIMER: Duration = Duration::from_millis(10);
const PRINT_LIMIT: u64 = 10;

zeroed_atomics! {
    struct Board {
        stop: AtomicU32,
        calls: AtomicU64,
        succeeded: AtomicU64,
        faults: AtomicU64,
        violations: AtomicU64,
    }
}

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
    let mut workers = Workers::new("fuzz");
    for id in 0..options.procs as u64 {
        let seed = Rng::derive(options.seed, id);
        let (paths, board) = (&paths, &*board);
        workers.start(move || Fuzzer::run(id, seed, paths, buffer_size, board))?;
    }
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut progress = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        if progress.elapsed() >= Duration::from_secs(30) {
            progress = Instant::now();
            tap.note(format!(
                "fuzz: {} calls so far, {} unexpected results",
                board.calls.load(SeqCst),
                board.violations.load(SeqCst)
            ));
        }
    }
    let ended = workers.stop(&board.stop, Duration::from_secs(10));
    let calls = board.calls.load(SeqCst);
    tap.note(format!(
        "fuzz: {calls} calls, each judged against the exact set of outcomes it may have: {} succeeded, \
         {} failed with EFAULT, the rest with another error allowed for that call",
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
            "every call gave an outcome allowed for it (success included): {violations} did not (seed {})",
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

/// A pointer argument the fuzzer draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pointer {
    /// Into `valid`, at an offset below 8.
    Valid,
    Null,
    ProtNone,
    /// The first page of the read-only pair (zeros).
    ReadOnly,
    /// 8 readable bytes (zeros) before `PROT_NONE`.
    Straddle,
    /// A kernel address.
    Kernel,
}

/// Pointer arguments and what is mapped there.
struct Pointers {
    arena: Arena,
}

impl Pointers {
    fn new(buffer_size: usize) -> std::io::Result<Self> {
        let page = crate::sys::memory::page_size();
        Ok(Self {
            arena: Arena::new(buffer_size + page)?,
        })
    }

    /// A length for a pointer argument.
    fn pick_len(&self, rng: &mut Rng) -> usize {
        let valid = self.arena.valid_len();
        match rng.below(8) {
            0 => 0,
            1 => 1,
            2 => rng.index(valid),
            3 => valid,
            4 => usize::MAX,
            5 => isize::MAX as usize,
            6 => 1 << 31,
            _ => rng.index(1 << 20),
        }
    }

    /// A pointer: its kind and where it points.
    fn pick_pointer(&self, rng: &mut Rng) -> (Pointer, Ptr<'_>) {
        let page = self.arena.page();
        let kernel = |offset: usize| match Ptr::kernel(offset & !(page - 1)) {
            Some(ptr) => (Pointer::Kernel, ptr),
            // No kernel space to point at (a 32-bit program on a 64-bit
            // kernel): NULL instead.
            None => (Pointer::Null, Ptr::NULL),
        };
        match rng.below(9) {
            0..=2 => (Pointer::Valid, self.arena.valid(rng.index(8))),
            3 => (Pointer::Null, Ptr::NULL),
            4 => (Pointer::ProtNone, self.arena.inaccessible()),
            5 => kernel(0),
            6 => (Pointer::Straddle, self.arena.straddle()),
            7 => (Pointer::ReadOnly, self.arena.read_only()),
            // Anywhere in kernel space: a random user address could land
            // in this process's own memory and let `read` overwrite it.
            _ => kernel(rng.next_u64() as usize),
        }
    }

    /// What the kernel finds at `ptr` (of kind `pointer`) for `len` bytes.
    fn buffer(&self, pointer: Pointer, ptr: Ptr<'_>, len: usize) -> oracle::Buffer {
        let (readable, writable) = match pointer {
            Pointer::Valid => {
                let room = self.arena.room(ptr);
                (room, room)
            }
            Pointer::Null | Pointer::ProtNone | Pointer::Kernel => (0, 0),
            Pointer::ReadOnly => (self.arena.page(), 0),
            Pointer::Straddle => (8, 0),
        };
        oracle::Buffer {
            len,
            access: if pointer == Pointer::Kernel {
                oracle::Access::Fails
            } else {
                oracle::Buffer::user_access(len)
            },
            readable,
            writable,
        }
    }

    /// A pointer and length, with what the kernel finds there.
    fn pick(&self, rng: &mut Rng) -> (Ptr<'_>, oracle::Buffer, Pointer) {
        let len = self.pick_len(rng);
        let (pointer, ptr) = self.pick_pointer(rng);
        (ptr, self.buffer(pointer, ptr, len), pointer)
    }
}

/// An open descriptor of this worker and its file description (shared by
/// `dup`s: flags set through one are the other's).
struct Open {
    fd: FuzzFile,
    description: Rc<RefCell<oracle::Description>>,
}

/// A descriptor argument as drawn: one of this worker's (its index in
/// `fds`, and its number for the report), or a number that is not open.
#[derive(Clone, Copy, Debug)]
enum Pick {
    Own(usize, i32),
    NotOpen(NotOpen),
}

impl fmt::Display for Pick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pick::Own(_, raw) => write!(f, "{raw}"),
            Pick::NotOpen(NotOpen::Negative) => write!(f, "-1"),
            Pick::NotOpen(NotOpen::TooLarge) => write!(f, "{}", i32::MAX),
        }
    }
}

/// A call that makes a descriptor, as the oracles judge it: its number.
fn number(result: &Result<FuzzFile, Errno>) -> Result<i64, Errno> {
    result
        .as_ref()
        .map(|file| i64::from(file.number()))
        .map_err(|e| *e)
}

struct Fuzzer<'a> {
    id: u64,
    rng: Rng,
    paths: &'a [PathBuf],
    board: &'a Board,
    fds: Vec<Open>,
    pointers: Pointers,
    buffer_size: usize,
    root: bool,
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
        let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
        let signals = fuzz_signals();
        if let Err(e) = rtsig::prepare_worker(&signals[1..]) {
            crate::harness::tap::report(format!("fuzz: worker {id}: signal setup: {e}"));
            return 1;
        }
        let pointers = match Pointers::new(buffer_size) {
            Ok(p) => p,
            Err(e) => {
                crate::harness::tap::report(format!("fuzz: worker {id}: mappings: {e}"));
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
            buffer_size,
            root: nix::unistd::geteuid().is_root(),
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
        for open in fuzzer.fds.drain(..) {
            let _ = calls::close(open.fd);
        }
        0
    }

    /// A descriptor argument: one of this worker's (its index), or a
    /// number no file can have.
    fn fd(&mut self) -> (Pick, oracle::Target, Option<usize>) {
        if self.fds.is_empty() || self.rng.chance(3) {
            let fd = self.rng.pick(&[NotOpen::Negative, NotOpen::TooLarge]);
            return (Pick::NotOpen(fd), oracle::Target::Closed, None);
        }
        let i = self.rng.index(self.fds.len());
        let open = &self.fds[i];
        (
            Pick::Own(i, open.fd.number()),
            oracle::Target::File(*open.description.borrow()),
            Some(i),
        )
    }

    /// The argument a drawn descriptor stands for.
    fn arg(&self, pick: Pick) -> Fd<'_> {
        match pick {
            Pick::Own(i, _) => Fd::Own(&self.fds[i].fd),
            Pick::NotOpen(n) => Fd::NotOpen(n),
        }
    }

    /// Judges one call: its outcome must be one `allowed` admits.
    fn judge(&mut self, call: &str, result: Result<i64, Errno>, allowed: &oracle::Allowed) {
        self.board.calls.fetch_add(1, SeqCst);
        match result {
            Ok(_) => self.board.succeeded.fetch_add(1, SeqCst),
            Err(Errno::EFAULT) => self.board.faults.fetch_add(1, SeqCst),
            Err(_) => 0,
        };
        if !allowed.admits(result) {
            self.board.violations.fetch_add(1, SeqCst);
            self.printed += 1;
            if self.printed <= PRINT_LIMIT {
                crate::harness::tap::report(format!(
                    "fuzz: worker {} step {}: {call}: {result:?}, allowed: success {:?}, errors {:?}",
                    self.id, self.step, allowed.ok, allowed.errnos
                ));
            }
        }
    }

    fn one_call(&mut self) {
        rtsig::arm_timer(CALL_TIMER);
        match self.rng.below(16) {
            0 | 1 => self.open(),
            2 => self.close_or_dup(),
            3 | 4 => self.transfer(true),
            5 | 6 => self.transfer(false),
            7 => self.vectored(),
            8 => self.positioned(),
            9 | 10 => self.ioctl(),
            11 | 12 => self.fcntl(),
            13 => self.poll(),
            14 => self.mmap(),
            _ => self.sync_truncate_lock(),
        }
        rtsig::arm_timer(Duration::ZERO);
    }

    fn keep(&mut self, fd: FuzzFile, description: Rc<RefCell<oracle::Description>>) {
        if self.fds.len() >= MAX_FDS {
            let old = self.fds.swap_remove(0);
            let _ = calls::close(old.fd);
        }
        self.fds.push(Open { fd, description });
    }

    fn open(&mut self) {
        let path = &self.paths[self.rng.index(self.paths.len())];
        let Ok(path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
            return;
        };
        // Access mode 0..=3 (3: neither read nor write) and random extras.
        let access = self.rng.below(4) as i32;
        let mut flags = access | libc::O_CLOEXEC;
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
        let has = |flag: i32| flags & flag == flag;
        let allowed = oracle::open(oracle::OpenFlags {
            path: has(libc::O_PATH),
            directory: has(libc::O_DIRECTORY),
            create_exclusive: has(libc::O_CREAT | libc::O_EXCL),
            direct: has(libc::O_DIRECT),
        });
        let result = calls::open(&path, flags);
        let judged = number(&result);
        if let Ok(fd) = result {
            let path_only = has(libc::O_PATH);
            let description = oracle::Description {
                readable: !path_only && (access == libc::O_RDONLY || access == libc::O_RDWR),
                writable: !path_only && (access == libc::O_WRONLY || access == libc::O_RDWR),
                path_only,
                nonblocking: Some(!path_only && has(libc::O_NONBLOCK)),
            };
            self.keep(fd, Rc::new(RefCell::new(description)));
        }
        self.judge(&format!("open(flags {flags:#o})"), judged, &allowed);
    }

    fn close_or_dup(&mut self) {
        if !self.fds.is_empty() && self.rng.chance(50) {
            let open = self.fds.swap_remove(self.rng.index(self.fds.len()));
            let r = calls::close(open.fd);
            self.judge("close", r, &oracle::close());
        } else {
            let (fd, target, index) = self.fd();
            let allowed = oracle::dup(target);
            let new = calls::dup(self.arg(fd));
            let r = number(&new);
            if let (Ok(new), Some(i)) = (new, index) {
                let description = Rc::clone(&self.fds[i].description);
                self.keep(new, description);
            }
            self.judge(&format!("dup({fd})"), r, &allowed);
        }
    }

    /// `read` or `write` (`reading`) of one buffer the fuzzer picks.
    fn transfer(&mut self, reading: bool) {
        let (fd, target, _) = self.fd();
        let (ptr, buffer, pointer) = self.pointers.pick(&mut self.rng);
        let (call, allowed, r) = if reading {
            let allowed = oracle::read(target, buffer, self.buffer_size);
            ("read", allowed, calls::read(self.arg(fd), ptr, buffer.len))
        } else {
            let allowed = oracle::write(target, buffer, self.buffer_size);
            (
                "write",
                allowed,
                calls::write(self.arg(fd), ptr, buffer.len),
            )
        };
        self.judge(
            &format!("{call}({fd}, {pointer:?}, {})", buffer.len),
            r,
            &allowed,
        );
    }

    fn positioned(&mut self) {
        let (fd, target, _) = self.fd();
        let offset = self.rng.pick(&[0, 1, -1, 4096, i32::MAX]);
        let (ptr, buffer, _) = self.pointers.pick(&mut self.rng);
        let (r, call, allowed) = match self.rng.below(3) {
            0 => (
                calls::pread(self.arg(fd), ptr, buffer.len, i64::from(offset)),
                "pread",
                oracle::positioned(target, i64::from(offset)),
            ),
            1 => (
                calls::pwrite(self.arg(fd), ptr, buffer.len, i64::from(offset)),
                "pwrite",
                oracle::positioned(target, i64::from(offset)),
            ),
            _ => {
                let whence = self.rng.pick(&[0, 1, 2, 3, 4, 99]);
                (
                    calls::lseek(self.arg(fd), i64::from(offset), whence),
                    "lseek",
                    oracle::lseek(target, whence),
                )
            }
        };
        self.judge(&format!("{call}({fd}, offset {offset})"), r, &allowed);
    }

    fn vectored(&mut self) {
        let (fd, target, _) = self.fd();
        let count = self.rng.pick(&[0usize, 1, 2, 3]);
        let mut iov = Vec::with_capacity(count);
        let mut segments = Vec::with_capacity(count);
        for _ in 0..count {
            let (ptr, buffer, _) = self.pointers.pick(&mut self.rng);
            iov.push((ptr, buffer.len));
            segments.push(buffer);
        }
        let iovcnt = self.rng.pick(&[count as i32, count as i32, -1, 1025]);
        let (array, iovcnt, iovecs) = if !(0..=1024).contains(&iovcnt) {
            // More entries than the array holds, or negative: the count is
            // rejected before the array is read.
            (calls::Iovecs::Array(&iov), iovcnt, oracle::Iovecs::BadCount)
        } else if self.rng.chance(10) {
            (
                calls::Iovecs::Inaccessible(&self.pointers.arena),
                iovcnt.max(1),
                oracle::Iovecs::Unreadable,
            )
        } else {
            (
                calls::Iovecs::Array(&iov),
                iovcnt,
                oracle::Iovecs::Segments(segments),
            )
        };
        let write = self.rng.chance(50);
        let allowed = if write {
            oracle::writev(target, &iovecs, self.buffer_size)
        } else {
            oracle::readv(target, &iovecs, self.buffer_size)
        };
        let r = calls::vectored(self.arg(fd), array, iovcnt, write);
        self.judge(
            &format!(
                "{}({fd}, {iovecs:?}, {iovcnt})",
                if write { "writev" } else { "readv" }
            ),
            r,
            &allowed,
        );
    }

    fn ioctl(&mut self) {
        let (fd, target, index) = self.fd();
        if self.rng.chance(25) {
            // The generic ones the VFS answers itself.
            use calls::GenericIoctl;
            let request = self.rng.pick(&[
                GenericIoctl::Fionbio,
                GenericIoctl::Fioasync,
                GenericIoctl::Fioclex,
                GenericIoctl::Fionclex,
            ]);
            let reads_arg = matches!(request, GenericIoctl::Fionbio | GenericIoctl::Fioasync);
            let (arg, buffer, pointer) = if self.rng.chance(30) {
                // A random number as the argument.
                (self.rng.next_u64() as usize, None, None)
            } else {
                let (pointer, ptr) = self.pointers.pick_pointer(&mut self.rng);
                (
                    ptr.address(),
                    Some(self.pointers.buffer(pointer, ptr, 4)),
                    Some(pointer),
                )
            };
            let allowed = oracle::generic_ioctl(target, reads_arg, buffer);
            let r = calls::generic_ioctl(self.arg(fd), request, arg);
            if r == Ok(0) && request == GenericIoctl::Fionbio {
                if let Some(i) = index {
                    // Zeros where the fuzzer knows the memory; unknown else.
                    let known = match pointer {
                        Some(Pointer::ReadOnly | Pointer::Straddle) => Some(false),
                        _ => None,
                    };
                    self.fds[i].description.borrow_mut().nonblocking = known;
                }
            }
            self.judge(
                &format!("ioctl({fd}, {:#x}, {pointer:?})", request.request()),
                r,
                &allowed,
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
        let (_, ptr) = self.pointers.pick_pointer(&mut self.rng);
        let r = calls::ioctl(self.arg(fd), request, ptr);
        self.judge(
            &format!("ioctl({fd}, {request:#x})"),
            r,
            &oracle::unknown_ioctl(target),
        );
    }

    fn fcntl(&mut self) {
        use oracle::Fcntl;
        let (fd, target, index) = self.fd();
        let me = std::process::id() as i32;
        let (pointer, ptr) = self.pointers.pick_pointer(&mut self.rng);
        let (r, call, command) = match self.rng.below(7) {
            0 => {
                let flags = self.rng.next_u64() as i32;
                let r = calls::fcntl_int(self.arg(fd), IntFcntl::SetFl, flags);
                if r == Ok(0) {
                    if let Some(i) = index {
                        self.fds[i].description.borrow_mut().nonblocking =
                            Some(flags & libc::O_NONBLOCK != 0);
                    }
                }
                let has = |flag: i32| flags & flag == flag;
                (
                    r,
                    format!("F_SETFL {flags:#x}"),
                    Fcntl::SetFl {
                        direct: has(libc::O_DIRECT),
                        noatime: has(libc::O_NOATIME),
                    },
                )
            }
            1 => {
                // Only owners that direct signals at this worker: itself,
                // its own group, nobody, or a pid that does not exist.
                let owner = self.rng.pick(&[me, -me, 0, 0x3fff_fff0]);
                let r = calls::fcntl_int(self.arg(fd), IntFcntl::SetOwn, owner);
                (
                    r,
                    format!("F_SETOWN {owner}"),
                    Fcntl::SetOwn {
                        exists: owner != 0x3fff_fff0,
                    },
                )
            }
            2 => {
                let valid = self.rng.pick(&fuzz_signals());
                let signal = self.rng.pick(&[valid, valid, -1, 65, 1000]);
                let r = calls::fcntl_int(self.arg(fd), IntFcntl::SetSig, signal);
                (
                    r,
                    format!("F_SETSIG {signal}"),
                    Fcntl::SetSig {
                        valid: (0..=64).contains(&signal),
                    },
                )
            }
            3 => {
                let (pointer, ptr, contents) = if self.rng.chance(50) {
                    // A well-formed or random owner record.
                    let kind = self.rng.pick(&[0i32, 1, 2, 7]);
                    let pid = self.rng.pick(&[me, 0, 0x3fff_fff0]);
                    let mut record = [0u8; 8];
                    record[..4].copy_from_slice(&kind.to_ne_bytes());
                    record[4..].copy_from_slice(&pid.to_ne_bytes());
                    let ptr = self.pointers.arena.record(&record);
                    (Pointer::Valid, ptr, Some((kind, pid != 0x3fff_fff0)))
                } else {
                    let contents = match pointer {
                        // Zeros: F_OWNER_TID 0, which clears the owner.
                        Pointer::ReadOnly | Pointer::Straddle => Some((0, true)),
                        _ => None,
                    };
                    (pointer, ptr, contents)
                };
                let buffer = self.pointers.buffer(pointer, ptr, 8);
                // F_SETOWN_EX, F_GETOWN_EX (the same on every Linux architecture).
                let (cmd, command) = if self.rng.chance(50) {
                    (15, Fcntl::SetOwnEx(buffer, contents))
                } else {
                    (16, Fcntl::GetOwnEx(buffer))
                };
                let r = calls::fcntl_pointer(self.arg(fd), cmd, ptr);
                (r, format!("fcntl {cmd} {pointer:?}"), command)
            }
            4 => {
                let cmd = self.rng.pick(&[
                    GetFcntl::StatusFlags,
                    GetFcntl::Owner,
                    GetFcntl::Signal,
                    GetFcntl::DescriptorFlags,
                ]);
                // F_GETOWN of a group is negative: -1 alone is an error.
                let r = calls::fcntl_get(self.arg(fd), cmd);
                let command = if matches!(cmd, GetFcntl::StatusFlags | GetFcntl::DescriptorFlags) {
                    Fcntl::GetFlags
                } else {
                    Fcntl::GetOwner
                };
                (r, format!("fcntl {cmd:?}"), command)
            }
            5 => {
                let cmd = self.rng.pick(&[
                    libc::F_SETLK,
                    libc::F_GETLK,
                    libc::F_OFD_SETLK,
                    libc::F_SETLEASE,
                    libc::F_NOTIFY,
                ]);
                let command = if cmd == libc::F_SETLEASE || cmd == libc::F_NOTIFY {
                    Fcntl::LeaseOrNotify
                } else if cmd == libc::F_OFD_SETLK && cfg!(target_pointer_width = "32") {
                    // 32-bit kernels take OFD locks through fcntl64 only.
                    Fcntl::Unknown
                } else {
                    let record = std::mem::size_of::<libc::flock>();
                    Fcntl::Lock(self.pointers.buffer(pointer, ptr, record))
                };
                let r = calls::fcntl_pointer(self.arg(fd), cmd, ptr);
                (r, format!("fcntl {cmd} {pointer:?}"), command)
            }
            _ => {
                let cmd = self.rng.pick(&[
                    None,
                    Some(IntFcntl::SetPipeSize),
                    Some(IntFcntl::AddSeals),
                    Some(IntFcntl::Unknown),
                ]);
                match cmd {
                    // F_DUPFD_CLOEXEC from 10: a new descriptor to keep.
                    None => {
                        let new = calls::dup_from(self.arg(fd), 10);
                        let r = number(&new);
                        if let (Ok(new), Some(i)) = (new, index) {
                            let description = Rc::clone(&self.fds[i].description);
                            self.keep(new, description);
                        }
                        (r, "fcntl DupFdCloexec".to_owned(), Fcntl::Dup)
                    }
                    Some(cmd) => {
                        let r = calls::fcntl_int(self.arg(fd), cmd, 10);
                        let command = match cmd {
                            IntFcntl::SetPipeSize => Fcntl::PipeSize,
                            IntFcntl::AddSeals => Fcntl::AddSeals,
                            _ => Fcntl::Unknown,
                        };
                        (r, format!("fcntl {cmd:?}"), command)
                    }
                }
            }
        };
        let allowed = oracle::fcntl(target, command, self.root);
        self.judge(&format!("{call} on {fd}"), r, &allowed);
    }

    fn poll(&mut self) {
        let count = 1 + self.rng.index(3);
        let picks: Vec<(Pick, i16)> = (0..count)
            .map(|_| (self.fd().0, self.rng.next_u64() as i16))
            .collect();
        let bad = self.rng.chance(10);
        let timeout_ms = self.rng.pick(&[0, 1]);
        let fds: Vec<(Fd<'_>, i16)> = picks
            .iter()
            .map(|&(pick, events)| (self.arg(pick), events))
            .collect();
        let entries = if bad {
            Err(&self.pointers.arena)
        } else {
            Ok(&fds[..])
        };
        let r = calls::poll(entries, count, timeout_ms);
        drop(fds);
        self.judge("poll", r, &oracle::poll(count, !bad));
    }

    fn mmap(&mut self) {
        let (fd, target, _) = self.fd();
        let result = calls::mmap_shared(self.arg(fd));
        self.judge(
            &format!("mmap of {fd}"),
            result,
            &oracle::mmap_shared(target),
        );
    }

    fn sync_truncate_lock(&mut self) {
        let (fd, target, _) = self.fd();
        let (r, call, allowed) = match self.rng.below(4) {
            0 => (
                calls::fsync(self.arg(fd)),
                "fsync".to_string(),
                oracle::sync_or_truncate(target),
            ),
            1 => (
                calls::ftruncate(self.arg(fd), 0),
                "ftruncate".to_string(),
                oracle::sync_or_truncate(target),
            ),
            2 => {
                let (operation, kind) = self.rng.pick(&[
                    (libc::LOCK_SH, oracle::Flock::SharedBlocking),
                    (
                        libc::LOCK_EX | libc::LOCK_NB,
                        oracle::Flock::ExclusiveNonblocking,
                    ),
                    (libc::LOCK_UN, oracle::Flock::Unlock),
                    (99, oracle::Flock::Mandatory),
                ]);
                (
                    calls::flock(self.arg(fd), operation),
                    format!("flock {operation}"),
                    oracle::flock(target, kind),
                )
            }
            _ => (
                calls::fdatasync(self.arg(fd)),
                "fdatasync".to_string(),
                oracle::sync_or_truncate(target),
            ),
        };
        self.judge(&format!("{call} on {fd}"), r, &allowed);
    }
}
