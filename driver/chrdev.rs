// SPDX-License-Identifier: GPL-2.0-only

//! A thin safe layer over the C character-device API.
//!
//! The kernels we support have no Rust abstraction for classic character
//! devices, so this file wraps the few C objects a driver needs:
//!
//! - [`CharDevices`]: a range of device numbers (`alloc_chrdev_region`), a
//!   device class (so devtmpfs/udev/mdev create `/dev` nodes), the driver's
//!   data for each device, one device node per device, and one `struct cdev`
//!   for the whole range, added last. Dropping it undoes all of that in
//!   reverse order.
//! - [`FileOperations`]: the callbacks of the `struct file_operations` table
//!   that [`CharDevices`] builds for its own data type, so the table cannot
//!   call one type's methods on another's data;
//! - [`File`]: the `struct file` of an open call;
//! - [`IovDest`] and [`IovSource`]: the user buffers of one `read_iter` or
//!   `write_iter` call (one `iov_iter`, whatever the number of iovecs);
//! - [`FasyncQueue`]: the list of `O_ASYNC` subscribers (`fasync_helper`,
//!   `kill_fasync`);
//! - [`PollTable`]: the `poll_table` of a `poll` call (`poll_wait`);
//! - [`declare_attribute_groups!`]: read-only sysfs files of each device
//!   node, typed by the data they read.
//!
//! Lifetimes: open files hold a reference on the module (the table's and
//! the cdev's `owner`), so the module's `CharDevices`, dropped at module
//! exit, is not dropped while a file is open. During module init no file
//! can be open at all: adding the cdev is the last step of `register`, it
//! cannot half-succeed, and nothing after it can fail. Creating a
//! `CharDevices` is `unsafe` for that reason: it must not be dropped at any
//! other time.

use crate::compat;
use core::{ffi::CStr, marker::PhantomData, marker::PhantomPinned, ptr};
use kernel::{
    bindings,
    error::{from_err_ptr, to_result, Error},
    ffi::{c_char, c_int, c_uint},
    prelude::*,
    types::Opaque,
    ThisModule,
};

/// `struct cdev` and its functions.
///
/// Linux 7.x's generated bindings have the type; older ones leave it opaque
/// (`<linux/cdev.h>` is not among the headers bindgen reads), so there the
/// layout is a copy of include/linux/cdev.h (unchanged since Linux 2.6).
/// What guards the copy:
/// - at compile time, on 7.x, the copy is compared with the bindings field
///   by field (`LAYOUT_MATCHES_BINDINGS` below), and `CONFIG_RANDSTRUCT`
///   (which may reorder `struct cdev`, a `__randomize_layout` type) stops
///   the build;
/// - at run time, [`CharDevices::register`] checks what `cdev_init` and
///   `cdev_add` wrote: the `ops`, `list`, `dev` and `count` fields where the
///   copy expects them, and a guard area after the struct that `cdev_init`'s
///   `memset` of `sizeof(struct cdev)` bytes must not reach.
mod cdev_sys {
    use kernel::{bindings, ffi::c_int, ffi::c_uint};

    #[cfg(CONFIG_RANDSTRUCT)]
    compile_error!("CONFIG_RANDSTRUCT may reorder struct cdev and struct file_operations");

    #[repr(C)]
    pub(super) struct CdevCopy {
        pub(super) kobj: bindings::kobject,
        pub(super) owner: *mut bindings::module,
        pub(super) ops: *const bindings::file_operations,
        pub(super) list: bindings::list_head,
        pub(super) dev: bindings::dev_t,
        pub(super) count: c_uint,
    }

    #[cfg(asyncn_7_0)]
    pub(super) use kernel::bindings::cdev;
    #[cfg(not(asyncn_7_0))]
    pub(super) use CdevCopy as cdev;

    /// The copy against the kernel's own layout, where bindgen has it.
    #[cfg(asyncn_7_0)]
    const LAYOUT_MATCHES_BINDINGS: () = {
        use core::mem::{offset_of, size_of};
        assert!(size_of::<CdevCopy>() == size_of::<bindings::cdev>());
        assert!(offset_of!(CdevCopy, owner) == offset_of!(bindings::cdev, owner));
        assert!(offset_of!(CdevCopy, ops) == offset_of!(bindings::cdev, ops));
        assert!(offset_of!(CdevCopy, list) == offset_of!(bindings::cdev, list));
        assert!(offset_of!(CdevCopy, dev) == offset_of!(bindings::cdev, dev));
        assert!(offset_of!(CdevCopy, count) == offset_of!(bindings::cdev, count));
    };
    #[cfg(asyncn_7_0)]
    const _: () = LAYOUT_MATCHES_BINDINGS;

    // Empty C structs (`lockdep_map` without lockdep) trip this lint, as in the
    // kernel's own `bindings` crate.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cdev_init(cdev: *mut cdev, fops: *const bindings::file_operations);
        pub(super) fn cdev_add(cdev: *mut cdev, dev: bindings::dev_t, count: c_uint) -> c_int;
        pub(super) fn cdev_del(cdev: *mut cdev);
    }
}

/// Poll event bits as `file_operations::poll` returns them: `__poll_t`
/// values, `EPOLL*` in include/uapi/linux/eventpoll.h. bindgen cannot
/// evaluate them (each is a `(__force __poll_t)` cast).
pub(crate) mod poll {
    pub(crate) const EPOLLIN: u32 = 0x0001;
    pub(crate) const EPOLLOUT: u32 = 0x0004;
    pub(crate) const EPOLLRDNORM: u32 = 0x0040;
    pub(crate) const EPOLLWRNORM: u32 = 0x0100;
}

/// A range of character device numbers.
struct Region {
    first: bindings::dev_t,
    count: c_uint,
}

impl Region {
    /// Allocates `count` device numbers with a dynamic major, minors from 0.
    fn alloc(count: u32, name: &'static CStr) -> Result<Self> {
        let mut first: bindings::dev_t = 0;
        // SAFETY: `first` is valid for writes; `name` is a static C string.
        to_result(unsafe { bindings::alloc_chrdev_region(&mut first, 0, count, c_chars(name)) })?;
        Ok(Self { first, count })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the range was allocated by `alloc` and is released once.
        unsafe { bindings::unregister_chrdev_region(self.first, self.count) };
    }
}

/// A device class (`/sys/class/<name>`).
struct Class(ptr::NonNull<bindings::class>);

impl Class {
    /// Creates the class `name`.
    fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a static C string; the class keeps the pointer.
        let raw = from_err_ptr(unsafe { bindings::class_create(c_chars(name)) })?;
        ptr::NonNull::new(raw).map(Self).ok_or(ENOMEM)
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        // SAFETY: the class was created by `create` and is destroyed once,
        // after every device node of it (see `CharDevices`).
        unsafe { bindings::class_destroy(self.0.as_ptr()) };
    }
}

/// The `struct file` of an open device file.
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

impl File {
    /// # Safety
    ///
    /// `ptr` must point to a `struct file` that stays valid for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::file) -> &'a File {
        // SAFETY: `File` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast() }
    }

    fn as_ptr(&self) -> *mut bindings::file {
        self.0.get()
    }

    /// Whether the file was opened for reading (`FMODE_READ` in `f_mode`).
    pub(crate) fn is_reader(&self) -> bool {
        self.mode() & FMODE_READ != 0
    }

    /// Whether the file was opened for writing (`FMODE_WRITE` in `f_mode`).
    pub(crate) fn is_writer(&self) -> bool {
        self.mode() & FMODE_WRITE != 0
    }

    /// Whether the file is in non-blocking mode (`O_NONBLOCK`).
    pub(crate) fn is_nonblocking(&self) -> bool {
        // SAFETY: reading `f_flags` of a live file; `fcntl(F_SETFL)` may
        // change it concurrently, which only makes this answer stale.
        let flags = unsafe { ptr::read_volatile(&raw const (*self.as_ptr()).f_flags) };
        flags & bindings::O_NONBLOCK != 0
    }

    fn mode(&self) -> u32 {
        // SAFETY: reading `f_mode` of a live file; the VFS may set other
        // bits concurrently (`FMODE_*` flags of its own), never the
        // read/write bits read here, which are fixed at open.
        unsafe { ptr::read_volatile(&raw const (*self.as_ptr()).f_mode) }
    }
}

// `FMODE_*` are `(__force fmode_t)` casts that bindgen cannot evaluate; their
// values are part of the VFS ABI (include/linux/fs.h).
const FMODE_READ: u32 = 1 << 0;
const FMODE_WRITE: u32 = 1 << 1;
const FMODE_NOWAIT: u32 = 1 << 27;

// `IOCB_NOWAIT` is `(__force int) RWF_NOWAIT` (include/linux/fs.h), a cast
// bindgen cannot evaluate; `RWF_NOWAIT` is 0x8 (include/uapi/linux/fs.h).
const IOCB_NOWAIT: c_int = 0x8;

/// Whether the call must not sleep waiting for data (`IOCB_NOWAIT`: io_uring
/// tries a read inline this way after `poll` said readable, and arms a poll
/// if it gets `EAGAIN`).
///
/// # Safety
///
/// `iocb` must be the valid `kiocb` of the current call.
unsafe fn iocb_nowait(iocb: *const bindings::kiocb) -> bool {
    // SAFETY: per the contract.
    unsafe { (*iocb).ki_flags & IOCB_NOWAIT != 0 }
}

/// The user buffers of one `read_iter` call, which the driver fills.
pub(crate) struct IovDest<'a> {
    iter: *mut bindings::iov_iter,
    nowait: bool,
    _call: PhantomData<&'a mut bindings::iov_iter>,
}

impl IovDest<'_> {
    /// Whether the caller asked not to wait (`IOCB_NOWAIT`): answer
    /// `EAGAIN` rather than block for data.
    pub(crate) fn nowait(&self) -> bool {
        self.nowait
    }

    /// Bytes the caller asked for (all iovecs together).
    pub(crate) fn len(&self) -> usize {
        // SAFETY: the iterator is valid for the call (`'a`).
        unsafe { compat::iov_iter_count(self.iter) }
    }

    /// Copies `data` to the user buffers. `data` must fit (`len()` bytes at
    /// most: `EINVAL` otherwise); `EFAULT` if user memory faults, in which
    /// case part of `data` may have been copied.
    pub(crate) fn write_all(&mut self, data: &[u8]) -> Result {
        if data.len() > self.len() {
            return Err(EINVAL);
        }
        // SAFETY: `data` is valid for reads of its length; the iterator is
        // valid for the call and advanced by what was copied.
        let copied =
            unsafe { bindings::_copy_to_iter(data.as_ptr().cast(), data.len(), self.iter) };
        if copied == data.len() {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }
}

/// The user buffers of one `write_iter` call, which the driver consumes.
pub(crate) struct IovSource<'a> {
    iter: *mut bindings::iov_iter,
    _call: PhantomData<&'a mut bindings::iov_iter>,
}

impl IovSource<'_> {
    /// Bytes the caller wrote (all iovecs together).
    pub(crate) fn len(&self) -> usize {
        // SAFETY: the iterator is valid for the call (`'a`).
        unsafe { compat::iov_iter_count(self.iter) }
    }

    /// Fills `buf` from the user buffers. `buf` must not be longer than
    /// `len()` (`EINVAL` otherwise); `EFAULT` if user memory faults, in
    /// which case `buf` may hold part of the input.
    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result {
        if buf.len() > self.len() {
            return Err(EINVAL);
        }
        // SAFETY: `buf` is valid for writes of its length; the iterator is
        // valid for the call and advanced by what was copied.
        let copied =
            unsafe { bindings::_copy_from_iter(buf.as_mut_ptr().cast(), buf.len(), self.iter) };
        if copied == buf.len() {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }
}

/// The callbacks of a character device; `Self` is the data of one device.
pub(crate) trait FileOperations: Sync + Send + Sized {
    /// Data of one open file, kept in `file->private_data` until release.
    type Open: Send + Sync;

    /// `open(2)`.
    fn open(&self, file: &File) -> Result<Self::Open>;
    /// Last `close(2)` of the open file.
    fn release(&self, open: Self::Open, file: &File);
    /// `read(2)`, `readv(2)`, `preadv2(2)`, io_uring reads: one call with
    /// all its buffers; returns the number of bytes written to `out`.
    /// Files are opened with `FMODE_NOWAIT`: when `out.nowait()`, it must
    /// fail with `EAGAIN` rather than wait for data.
    fn read(&self, open: &Self::Open, file: &File, out: &mut IovDest<'_>) -> Result<usize>;
    /// `write(2)`, `writev(2)`, `pwritev2(2)`, io_uring writes: one call
    /// with all its buffers; returns the number of bytes accepted.
    fn write(&self, open: &Self::Open, file: &File, input: &mut IovSource<'_>) -> Result<usize>;
    /// `fcntl(F_SETFL)` changing `O_ASYNC`.
    fn fasync(&self, open: &Self::Open, fd: c_int, file: &File, on: bool) -> Result;
    /// `poll`/`select`/`epoll`: registers on the wait queues through
    /// `table`, returns the `EPOLL*` mask of what would not block now.
    /// Only queues that live as long as the device (`'a`) can be registered.
    fn poll<'a>(&'a self, open: &Self::Open, file: &File, table: &PollTable<'a>) -> u32;
}

/// `struct poll_table_struct` and `poll_wait()`.
///
/// Linux 7.x's bindings have both (the type and a helper for the inline
/// function); older ones leave the type opaque, so there the layout is a
/// copy of include/linux/poll.h (unchanged since Linux 2.6) and
/// `poll_wait()` is written out. On 7.x the copy is still compiled and
/// compared with the bindings, as evidence that it is current.
mod poll_sys {
    use kernel::bindings;

    pub(super) type PollQueueProc = unsafe extern "C" fn(
        *mut bindings::file,
        *mut bindings::wait_queue_head,
        *mut PollTableCopy,
    );

    #[repr(C)]
    pub(super) struct PollTableCopy {
        pub(super) qproc: Option<PollQueueProc>,
        pub(super) key: bindings::__poll_t,
    }

    #[cfg(asyncn_7_0)]
    const _: () = {
        use core::mem::{offset_of, size_of};
        assert!(size_of::<PollTableCopy>() == size_of::<bindings::poll_table_struct>());
        assert!(
            offset_of!(PollTableCopy, qproc) == offset_of!(bindings::poll_table_struct, _qproc)
        );
        assert!(offset_of!(PollTableCopy, key) == offset_of!(bindings::poll_table_struct, _key));
    };

    /// `poll_wait(file, queue, table)`.
    ///
    /// # Safety
    ///
    /// `table` is null or the live table of a `poll` call on `file`;
    /// `queue` is initialised and outlives the registration (until the
    /// poller removes itself, at the latest when `file` is released).
    pub(super) unsafe fn poll_wait(
        file: *mut bindings::file,
        queue: *mut bindings::wait_queue_head,
        table: *mut bindings::poll_table_struct,
    ) {
        #[cfg(asyncn_7_0)]
        // SAFETY: per the contract.
        unsafe {
            bindings::poll_wait(file, queue, table)
        };
        #[cfg(not(asyncn_7_0))]
        {
            let table = table.cast::<PollTableCopy>();
            if !table.is_null() {
                // SAFETY: a non-null table is valid for the `poll` call;
                // `qproc` is the VFS's queueing function for it.
                unsafe {
                    if let Some(qproc) = (*table).qproc {
                        qproc(file, queue, table);
                    }
                }
            }
        }
    }
}

/// The `poll_table` of one `poll` call on one file. `'a` is the lifetime of
/// the device's data: only wait queues that live that long can be
/// registered, because the VFS (epoll) keeps the registration until the
/// file is released.
pub(crate) struct PollTable<'a> {
    table: *mut bindings::poll_table_struct,
    file: *mut bindings::file,
    /// Invariant in `'a`: a `poll` implementation cannot shorten it to
    /// register a queue that lives less than the device.
    _device: PhantomData<fn(&'a ()) -> &'a ()>,
}

impl<'a> PollTable<'a> {
    /// `poll_wait()`: makes `queue` wake this poller. Ends with a full
    /// barrier (as `sock_poll_wait()` does): the caller's readiness check
    /// that follows pairs with [`WaitQueue::wake_up_poll`]'s check for waiters.
    ///
    /// [`WaitQueue::wake_up_poll`]: crate::sync::WaitQueue::wake_up_poll
    pub(crate) fn register(&self, queue: &'a crate::sync::WaitQueue) {
        // SAFETY: `table` and `file` are those of the `poll` call this
        // value was made for; `queue` lives as long as the device (`'a`),
        // which outlives every open file of it.
        unsafe { poll_sys::poll_wait(self.file, queue.as_ptr(), self.table) };
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    }
}

/// The `struct file_operations` table calling `T`'s methods. Without
/// `llseek` and with `stream_open`, `lseek`/`pread`/`pwrite` fail with
/// `ESPIPE`; without `unlocked_ioctl`, every ioctl fails with `ENOTTY`.
fn file_operations<T: FileOperations>(owner: *mut bindings::module) -> bindings::file_operations {
    bindings::file_operations {
        owner,
        open: Some(open_callback::<T>),
        release: Some(release_callback::<T>),
        read_iter: Some(read_iter_callback::<T>),
        write_iter: Some(write_iter_callback::<T>),
        fasync: Some(fasync_callback::<T>),
        poll: Some(poll_callback::<T>),
        // SAFETY: all-zero is a valid `file_operations` (no callback).
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    }
}

/// Words after the cdev that `cdev_init` must leave as they are.
const CDEV_GUARD_WORDS: usize = 32;
const CDEV_GUARD: u64 = 0xa5a5_5a5a_a5a5_5a5a;

/// The character devices of one driver: device numbers, class, the data
/// `T` of each device, their nodes, and one cdev for all of them.
///
/// Registration order (see [`CharDevices::register`]): numbers, class and
/// data first, then the nodes (opening one fails with `ENXIO` while no cdev
/// covers its number), and the cdev last. Adding the cdev is one
/// `kobj_map` call for the whole range, so the devices become usable all at
/// once, after the last step that can fail.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(crate) struct CharDevices<T: FileOperations> {
    /// First field: `open` finds `Self` from `inode->i_cdev`.
    #[pin]
    cdev: Opaque<cdev_sys::cdev>,
    /// Right after the cdev: the layout check's guard area.
    cdev_guard: [u64; CDEV_GUARD_WORDS],
    /// The table the cdev points at; built for `T`, owned by the module.
    #[pin]
    fops: Opaque<bindings::file_operations>,
    /// The data of device `i` (minor `i`); boxed, so the nodes' drvdata
    /// pointers stay valid.
    devices: KVec<Pin<KBox<T>>>,
    /// The name of the numbers, the class and the nodes (`<name><i>`).
    name: &'static CStr,
    /// How many nodes exist (devices `0..nodes`).
    nodes: u32,
    cdev_added: bool,
    // Dropped after the nodes (`PinnedDrop`), class before region.
    class: Class,
    region: Region,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the raw C objects are only handed to C functions that lock
// internally; `T` is shared across tasks by the file callbacks.
unsafe impl<T: FileOperations> Send for CharDevices<T> {}
// SAFETY: as above.
unsafe impl<T: FileOperations> Sync for CharDevices<T> {}

/// The number of devices as the C API takes it: 1 or more.
fn device_count(len: usize) -> Result<u32> {
    match u32::try_from(len) {
        Ok(count) if count > 0 => Ok(count),
        _ => Err(EINVAL),
    }
}

impl<T: FileOperations> CharDevices<T> {
    /// Allocates device numbers and the class `name` for `devices` (device
    /// `i` gets minor `i`); nothing is visible yet.
    ///
    /// # Safety
    ///
    /// Open files point into the value: it may be dropped only when none
    /// can be open, that is at module exit (open files hold the module),
    /// or when [`CharDevices::register`] failed.
    pub(crate) unsafe fn new(
        module: &'static ThisModule,
        name: &'static CStr,
        devices: KVec<Pin<KBox<T>>>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            cdev: Opaque::uninit(),
            cdev_guard: [CDEV_GUARD; CDEV_GUARD_WORDS],
            fops: Opaque::new(file_operations::<T>(module.as_ptr())),
            name,
            nodes: 0,
            cdev_added: false,
            region: Region::alloc(device_count(devices.len())?, name)?,
            class: Class::create(name)?,
            devices,
            _pin: PhantomPinned,
        }? Error)
    }

    /// The dynamic major number.
    pub(crate) fn major(&self) -> u32 {
        self.region.first >> bindings::MINORBITS
    }

    /// Makes the devices live: creates `/dev/<name><i>` for each, with the
    /// sysfs attributes `groups`, then adds the cdev. On an error, what was
    /// done is undone when `self` is dropped; no file can have been opened.
    pub(crate) fn register(self: Pin<&mut Self>, groups: &'static AttributeGroups<T>) -> Result {
        // SAFETY: nothing is moved out of the pin; only fields that are not
        // structurally pinned are written, and the pinned ones through
        // their pointers.
        let this = unsafe { self.get_unchecked_mut() };
        if this.nodes != 0 || this.cdev_added {
            return Err(EBUSY);
        }
        for index in 0..this.region.count {
            let drvdata: *const T = &*this.devices[index as usize];
            // SAFETY: the class is live; `groups` is a static,
            // NULL-terminated array whose callbacks read a `T` (its type
            // says so) and `drvdata` is a `T` that outlives the node (the
            // nodes are destroyed in `drop` before the data); the format
            // takes a string and an `unsigned int`.
            let node = unsafe {
                bindings::device_create_with_groups(
                    this.class.0.as_ptr(),
                    ptr::null_mut(),
                    this.region.first + index,
                    drvdata.cast_mut().cast(),
                    groups.as_ptr(),
                    c_chars(c"%s%u"),
                    c_chars(this.name),
                    index,
                )
            };
            from_err_ptr(node)?;
            this.nodes = index + 1;
        }
        let cdev = this.cdev.get();
        // SAFETY: `cdev` and the guard are this pinned struct's memory; the
        // table is pinned next to it and lives as long as the cdev.
        unsafe { cdev_sys::cdev_init(cdev, this.fops.get()) };
        this.check_cdev_layout()?;
        // SAFETY: the layout was checked above. The cdev holds the module
        // while a file is being opened (`cdev_get`), as the table does for
        // open files: no open can outlive the module's data.
        unsafe { (*cdev.cast::<cdev_sys::CdevCopy>()).owner = (*this.fops.get()).owner };
        let (first, count) = (this.region.first, this.region.count);
        // Set before the cdev is visible: `this` is not touched once other
        // tasks may reach the struct through it.
        this.cdev_added = true;
        // SAFETY: the cdev was initialised above. This is the last step,
        // and the only one after which files may be opened: nothing after
        // it can fail.
        let ret = unsafe { cdev_sys::cdev_add(cdev, first, count) };
        if ret != 0 {
            // Nothing was added: no other task can see the struct.
            this.cdev_added = false;
        }
        to_result(ret)
    }

    /// Checks that `cdev_init` wrote the fields where the copied layout
    /// puts them, and no further than the copy (see `cdev_sys`).
    fn check_cdev_layout(&self) -> Result {
        let cdev = self.cdev.get().cast::<cdev_sys::CdevCopy>();
        // SAFETY: the cdev was initialised by `cdev_init` and is not yet
        // added: no other task reads or writes it.
        let (ops, list, owner) = unsafe { ((*cdev).ops, (*cdev).list.next, (*cdev).owner) };
        // SAFETY: as above; only the address is taken.
        let list_head = unsafe { &raw mut (*cdev).list };
        let ok = self.cdev_guard.iter().all(|&w| w == CDEV_GUARD)
            && ops == self.fops.get().cast_const()
            && list == list_head
            && owner.is_null();
        if !ok {
            pr_err!("struct cdev does not have the layout this driver was built for\n");
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The data of the device `inode` belongs to.
    ///
    /// # Safety
    ///
    /// `inode` must be the inode of a file being opened on the cdev of a
    /// live `CharDevices<T>`.
    unsafe fn device_of<'a>(inode: *const bindings::inode) -> Option<&'a T> {
        // SAFETY: `cdev` is the first field of the `repr(C)` struct, so the
        // cdev pointer is the `CharDevices` pointer; the caller guarantees
        // it is live for as long as the file is open.
        let this = unsafe { &*compat::inode_cdev(inode).cast::<Self>() };
        // SAFETY: the caller guarantees `inode` is valid.
        let rdev = unsafe { (*inode).i_rdev };
        let index = rdev.checked_sub(this.region.first)?;
        this.devices.get(index as usize).map(|d| &**d)
    }
}

#[pinned_drop]
impl<T: FileOperations> PinnedDrop for CharDevices<T> {
    fn drop(self: Pin<&mut Self>) {
        if self.cdev_added {
            // SAFETY: the cdev was added by `register`; no file is open (the
            // contract of `new`).
            unsafe { cdev_sys::cdev_del(self.cdev.get()) };
        }
        for index in (0..self.nodes).rev() {
            // SAFETY: the node was created by `register` in this class,
            // which is still alive (dropped after this).
            unsafe { bindings::device_destroy(self.class.0.as_ptr(), self.region.first + index) };
        }
    }
}

/// What `file->private_data` points to: the device and the open's data.
struct OpenFile<T: FileOperations> {
    device: *const T,
    open: T::Open,
}

/// The device data and the open-file data behind a `struct file`.
///
/// # Safety
///
/// `file` must be an open file of a `CharDevices<T>`, opened by
/// `open_callback::<T>`, and stay open for `'a`.
unsafe fn file_parts<'a, T: FileOperations>(
    file: *mut bindings::file,
) -> (&'a T, &'a T::Open, &'a File) {
    // SAFETY: per the contract, `private_data` is the `OpenFile<T>` boxed by
    // `open_callback`, and the device outlives its open files.
    unsafe {
        let open = &*(*file).private_data.cast::<OpenFile<T>>();
        (&*open.device, &open.open, File::from_raw(file))
    }
}

/// `file_operations::open`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by `file_operations::<T>`,
/// for files of a live `CharDevices<T>`.
unsafe extern "C" fn open_callback<T: FileOperations>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: the VFS calls `open` with a valid inode of our cdev and a
    // valid file being opened.
    let (device, file_ref) = unsafe { (CharDevices::<T>::device_of(inode), File::from_raw(file)) };
    let Some(device) = device else {
        return ENXIO.to_errno();
    };
    // SAFETY: as above. A stream: no file position, no seek, no pread.
    let ret = unsafe { bindings::stream_open(inode, file) };
    if ret != 0 {
        return ret;
    }
    // `read` honours `IOCB_NOWAIT` (`IovDest::nowait`), so the VFS may pass
    // `RWF_NOWAIT` and io_uring may try reads without a worker, as for
    // pipes (`fifo_open`) and eventfd.
    // SAFETY: `file` is valid and not yet installed in any descriptor
    // table, so no other task reads or writes its `f_mode`.
    unsafe { (*file).f_mode |= FMODE_NOWAIT };
    // Allocate first, so that a failed allocation cannot leave `T::open`'s
    // effects without a matching `release`.
    let slot = match KBox::<OpenFile<T>>::new_uninit(GFP_KERNEL) {
        Ok(slot) => slot,
        Err(_) => return ENOMEM.to_errno(),
    };
    match device.open(file_ref) {
        Ok(open) => {
            let boxed = KBox::write(slot, OpenFile { device, open });
            // SAFETY: `file` is valid; `private_data` is ours until release.
            unsafe { (*file).private_data = KBox::into_raw(boxed).cast() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// `file_operations::release`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by `file_operations::<T>`,
/// for files of a live `CharDevices<T>`.
unsafe extern "C" fn release_callback<T: FileOperations>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: called once per successful open, with that open's file;
    // `private_data` is the box made by `open_callback`.
    let (open, file_ref) = unsafe {
        (
            KBox::from_raw((*file).private_data.cast::<OpenFile<T>>()),
            File::from_raw(file),
        )
    };
    let OpenFile { device, open } = KBox::into_inner(open);
    // SAFETY: the device outlives its open files.
    unsafe { &*device }.release(open, file_ref);
    0
}

/// `file_operations::read_iter`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by `file_operations::<T>`,
/// for files of a live `CharDevices<T>`.
unsafe extern "C" fn read_iter_callback<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid for the call; its file was opened by
    // `open_callback`.
    let (dev, open, file) = unsafe { file_parts::<T>((*iocb).ki_filp) };
    let mut out = IovDest {
        iter,
        // SAFETY: `iocb` is valid for the call.
        nowait: unsafe { iocb_nowait(iocb) },
        _call: PhantomData,
    };
    match dev.read(open, file, &mut out) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `file_operations::write_iter`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by `file_operations::<T>`,
/// for files of a live `CharDevices<T>`.
unsafe extern "C" fn write_iter_callback<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid for the call; its file was opened by
    // `open_callback`.
    let (dev, open, file) = unsafe { file_parts::<T>((*iocb).ki_filp) };
    let mut input = IovSource {
        iter,
        _call: PhantomData,
    };
    match dev.write(open, file, &mut input) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `file_operations::fasync`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by `file_operations::<T>`,
/// for files of a live `CharDevices<T>`.
unsafe extern "C" fn fasync_callback<T: FileOperations>(
    fd: c_int,
    file: *mut bindings::file,
    on: c_int,
) -> c_int {
    // SAFETY: `fasync` is only called on files opened by `open_callback`.
    let (dev, open, file) = unsafe { file_parts::<T>(file) };
    match dev.fasync(open, fd, file, on != 0) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `file_operations::poll`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by `file_operations::<T>`,
/// for files of a live `CharDevices<T>`.
unsafe extern "C" fn poll_callback<T: FileOperations>(
    file: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: `poll` is only called on files opened by `open_callback`.
    let (dev, open, file_ref) = unsafe { file_parts::<T>(file) };
    let table = PollTable {
        table,
        file,
        _device: PhantomData,
    };
    dev.poll(open, file_ref, &table)
}

/// The `O_ASYNC` subscribers of a device: the head of the kernel's
/// `fasync_struct` list.
///
/// `fasync_helper` serialises list changes with its own locks and
/// `kill_fasync` walks the list under RCU, so no driver lock is needed
/// around either.
pub(crate) struct FasyncQueue(Opaque<*mut bindings::fasync_struct>);

// SAFETY: the list is only touched through the C functions above, which do
// their own locking.
unsafe impl Send for FasyncQueue {}
// SAFETY: as above.
unsafe impl Sync for FasyncQueue {}

impl FasyncQueue {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self(Opaque::new(ptr::null_mut()))
    }

    /// Adds or removes `file` (the `fasync` file operation); true when the
    /// list changed (false: it was already in or out).
    ///
    /// # Safety
    ///
    /// The list keeps a pointer to `file`: a file added must be removed
    /// (`on == false`, or [`FasyncQueue::remove`]) before it is released,
    /// from this same queue.
    pub(crate) unsafe fn update(&self, fd: c_int, file: &File, on: bool) -> Result<bool> {
        // SAFETY: `file` is a live open file; the head is valid; the caller
        // removes the file before it goes.
        let ret = unsafe { bindings::fasync_helper(fd, file.as_ptr(), on.into(), self.0.get()) };
        to_result(ret.min(0))?;
        Ok(ret > 0)
    }

    /// Removes `file`, whatever its `O_ASYNC` state (on release); true when
    /// it was subscribed.
    pub(crate) fn remove(&self, file: &File) -> bool {
        // SAFETY: removing leaves no pointer behind. It cannot fail: it
        // allocates nothing.
        unsafe { self.update(-1, file, false) }.unwrap_or(false)
    }

    /// Sends `signal` to every subscriber, with `si_band` from `band`.
    pub(crate) fn notify(&self, signal: u32, band: u32) {
        // SAFETY: the head is valid; `kill_fasync` copes with an empty list.
        unsafe { bindings::kill_fasync(self.0.get(), signal as c_int, band as c_int) };
    }
}

/// The value an attribute shows, read from a `T`.
#[doc(hidden)]
pub(crate) type ShowValue<T> = fn(&T) -> u64;

/// `device_attribute::show` for a node whose drvdata is a `T`: formats
/// `value(data)`.
///
/// # Safety
///
/// `dev` must be a node made by [`CharDevices::<T>::register`] (drvdata
/// points at a live `T`) and `buf` the page sysfs provides.
#[doc(hidden)]
pub(crate) unsafe fn show_attribute<T>(
    dev: *mut bindings::device,
    buf: *mut c_char,
    value: ShowValue<T>,
) -> isize {
    // SAFETY: per the contract, drvdata is the node's `T`; sysfs removes the
    // attributes (waiting for running `show`s) before the node goes away.
    let data = unsafe { &*(*dev).driver_data.cast::<T>() };
    // SAFETY: `buf` is the page sysfs provides; the format takes one u64.
    unsafe { bindings::sysfs_emit(buf, c_chars(c"%llu\n"), value(data)) as isize }
}

/// A static attribute table.
#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct Attribute(pub(crate) bindings::device_attribute);
// SAFETY: immutable after compilation; the kernel only reads it.
unsafe impl Sync for Attribute {}

#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct AttributePointers<const N: usize>(pub(crate) [*mut bindings::attribute; N]);
// SAFETY: as above.
unsafe impl<const N: usize> Sync for AttributePointers<N> {}

#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct AttributeGroup(pub(crate) bindings::attribute_group);
// SAFETY: as above.
unsafe impl Sync for AttributeGroup {}

/// A NULL-terminated list of attribute groups, as `device_create_with_groups`
/// takes it, whose `show` callbacks read a `T` from the node's drvdata.
/// Made only by [`declare_attribute_groups!`].
pub(crate) struct AttributeGroups<T> {
    groups: [*const bindings::attribute_group; 2],
    _reads: PhantomData<fn(&T)>,
}
// SAFETY: as above.
unsafe impl<T> Sync for AttributeGroups<T> {}

impl<T> AttributeGroups<T> {
    /// # Safety
    ///
    /// Every `show` callback of `group` must be sound when the node's
    /// drvdata is a live `T` (as [`show_attribute::<T>`] is).
    #[doc(hidden)]
    pub(crate) const unsafe fn new(group: *const bindings::attribute_group) -> Self {
        Self {
            groups: [group, ptr::null()],
            _reads: PhantomData,
        }
    }

    fn as_ptr(&'static self) -> *mut *const bindings::attribute_group {
        self.groups.as_ptr().cast_mut()
    }
}

/// The characters of `s` as the kernel's `char` (always unsigned), which is
/// what the C API takes whatever the architecture's C `char` is.
#[allow(clippy::disallowed_methods)] // the one place that converts
pub(crate) const fn c_chars(s: &CStr) -> *const c_char {
    s.as_ptr().cast()
}

/// A C string from a NUL-terminated literal, at compile time.
#[doc(hidden)]
pub(crate) const fn c_string(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("not a NUL-terminated string without inner NUL"),
    }
}

/// A read-only (0444) attribute named `name` with the callback `show`.
#[doc(hidden)]
pub(crate) const fn attribute(name: &'static CStr, show: compat::ShowFn) -> Attribute {
    // SAFETY: all-zero is a valid `device_attribute` (no callbacks).
    let mut attr: bindings::device_attribute =
        unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    attr.attr.name = c_chars(name);
    attr.attr.mode = 0o444;
    compat::set_show(&mut attr, show);
    Attribute(attr)
}

/// Declares `static $groups: AttributeGroups<$t>`, one read-only attribute
/// per entry; `"name" => |data| expr` shows `expr` (a `u64`) computed from
/// `data: &$t`, the node's device data.
macro_rules! declare_attribute_groups {
    ($groups:ident, $t:ty, [$($name:literal => |$data:ident| $value:expr),+ $(,)?]) => {
        static $groups: $crate::chrdev::AttributeGroups<$t> = {
            use $crate::chrdev::{attribute, Attribute, AttributeGroup, AttributePointers};
            use ::core::ptr::{addr_of, null_mut};

            const COUNT: usize = [$($name),+].len();
            static ATTRS: [Attribute; COUNT] = [$({
                /// # Safety
                ///
                /// Only sysfs calls this, for a node of `AttributeGroups<$t>`.
                unsafe extern "C" fn show(
                    dev: *mut ::kernel::bindings::device,
                    _attr: *mut ::kernel::bindings::device_attribute,
                    buf: *mut ::kernel::ffi::c_char,
                ) -> isize {
                    fn value($data: &$t) -> u64 {
                        $value
                    }
                    // SAFETY: the node's drvdata is a live `$t` (the groups'
                    // type says so, and `CharDevices::<$t>` sets it).
                    unsafe { $crate::chrdev::show_attribute::<$t>(dev, buf, value) }
                }
                attribute($crate::chrdev::c_string(concat!($name, "\0")), show)
            }),+];
            static POINTERS: AttributePointers<{ COUNT + 1 }> = {
                let mut pointers = [null_mut(); COUNT + 1];
                let mut i = 0;
                while i < COUNT {
                    pointers[i] = addr_of!(ATTRS[i].0.attr).cast_mut();
                    i += 1;
                }
                AttributePointers(pointers)
            };
            static GROUP: AttributeGroup = AttributeGroup($crate::compat::attribute_group(
                addr_of!(POINTERS.0).cast_mut().cast(),
            ));
            // SAFETY: every callback above reads a `$t` through
            // `show_attribute::<$t>`.
            unsafe { $crate::chrdev::AttributeGroups::new(addr_of!(GROUP.0)) }
        };
    };
}
pub(crate) use declare_attribute_groups;
