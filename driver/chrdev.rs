// SPDX-License-Identifier: GPL-2.0-only

//! What the `kernel` crate has no abstraction for, in any supported
//! version (checked in 6.12, 6.18 and 7.3): classic character devices.
//!
//! - [`CharDevices`]: a range of device numbers (`alloc_chrdev_region`), a
//!   device class (so devtmpfs/udev/mdev create `/dev` nodes), the driver's
//!   data for each device, one device node per device, and one `struct cdev`
//!   for the whole range, added last, inside its pin-initializer. Dropping
//!   it undoes all of that in reverse order. (`MiscDevice` has no `poll` or
//!   `fasync`, and one minor per registration.)
//! - [`FileOperations`]: the callbacks of the static `struct
//!   file_operations` table that [`file_operations_table!`] declares for one
//!   data type, so the table cannot call one type's methods on another's
//!   data;
//! - [`File`]: the `struct file` of a callback: its access mode and
//!   `O_NONBLOCK`;
//! - [`IovDest`] and [`IovSource`]: the user buffers of one `read_iter` or
//!   `write_iter` call (the `kernel` crate's IO vectors), with the call's
//!   `IOCB_NOWAIT`, which no `kernel` crate type exposes;
//! - [`FasyncQueue`]: the list of `O_ASYNC` subscribers (`fasync_helper`,
//!   `kill_fasync`);
//! - [`PollTable`]: the `poll_table` of a `poll` call (`poll_wait`) on a
//!   [`WaitQueue`], since `kernel::sync::poll::PollTable` registers only a
//!   `PollCondVar` (see `sync.rs` for why the driver cannot use one);
//! - [`declare_attribute_groups!`]: read-only sysfs files of each device
//!   node, typed by the data they read.
//!
//! Lifetimes: open files hold a reference on the module (the table's and
//! the cdev's `owner`), so the module's `CharDevices`, dropped at module
//! exit, is not dropped while a file is open. During module init no file
//! can be open at all: adding the cdev is the last step of the
//! initializer, it cannot half-succeed, and nothing after it can fail.
//! Creating a `CharDevices` is `unsafe` for that reason: it must not be
//! dropped at any other time.
//!
//! Files: the callbacks see the `struct file` as a [`File`], valid for the
//! call and not kept after it. Not upstream's `fs::File` or
//! `fs::LocalFile`: their constructors require that no `fdget_pos` region
//! without `f_pos_lock` be active on another thread, and `release` needs
//! a positive refcount. Neither holds here: the files are streams
//! (`stream_open` clears `FMODE_ATOMIC_POS`, so no `fdget_pos` on them
//! takes the lock, and two threads may read one file at once), and
//! `release` runs as the last reference goes. [`File`] promises only that
//! the file is valid for the call, and offers only what the driver reads.
//!
//! [`WaitQueue`]: crate::sync::WaitQueue

use crate::compat::{
    self,
    cdev::{self, Cdev},
    init::pin_init_from_closure,
    iov::{IovIterDest, IovIterSource},
    str::{as_char_ptr_in_const_context, CStrExt},
};
use core::{ffi::CStr, marker::PhantomData, marker::PhantomPinned, ptr};
use kernel::{
    bindings,
    error::{from_err_ptr, to_result, Error},
    ffi::{c_char, c_int, c_uint},
    prelude::*,
    types::Opaque,
    ThisModule,
};

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
///
/// # Invariants
///
/// `first..first + count` was allocated by `alloc_chrdev_region` and is
/// released only by `drop`.
struct Region {
    first: bindings::dev_t,
    count: c_uint,
}

impl Region {
    /// Allocates `count` device numbers with a dynamic major, minors from 0.
    fn alloc(count: u32, name: &'static CStr) -> Result<Self> {
        let mut first: bindings::dev_t = 0;
        // SAFETY: `alloc_chrdev_region` writes the first number to `first`,
        // valid for writes, and keeps `name`, a static C string.
        to_result(unsafe {
            bindings::alloc_chrdev_region(&mut first, 0, count, name.as_char_ptr())
        })?;
        // INVARIANT: the range was just allocated.
        Ok(Self { first, count })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: `unregister_chrdev_region` releases a range allocated
        // before, once: the type invariant.
        unsafe { bindings::unregister_chrdev_region(self.first, self.count) };
    }
}

/// A device class (`/sys/class/<name>`).
///
/// # Invariants
///
/// The pointer is a class made by `class_create`, destroyed only by `drop`.
struct Class(ptr::NonNull<bindings::class>);

impl Class {
    /// Creates the class `name`.
    fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `class_create` keeps `name`, a static C string.
        let raw = from_err_ptr(unsafe { bindings::class_create(name.as_char_ptr()) })?;
        // INVARIANT: a class just created, or `ENOMEM` for null.
        ptr::NonNull::new(raw).map(Self).ok_or(ENOMEM)
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        // SAFETY: `class_destroy` takes a class made by `class_create`, once
        // (the type invariant), after its devices are gone: the nodes,
        // dropped before the class (see `Registered`).
        unsafe { bindings::class_destroy(self.0.as_ptr()) };
    }
}

/// The `struct file` of one file-operation call.
///
/// # Invariants
///
/// The file is valid while the reference lives, which is at most the
/// callback it was made for: the VFS holds the file for the call (in
/// `release`, it is the last reference, dropped after the call).
#[repr(transparent)]
pub(crate) struct File(Opaque<bindings::file>);

impl File {
    /// # Safety
    ///
    /// `ptr` must point to a `struct file` that stays valid for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::file) -> &'a File {
        // SAFETY: the caller guarantees that `ptr` is valid for `'a`; `File`
        // is a transparent wrapper of the C struct.
        // INVARIANT: valid for `'a`, the caller's guarantee.
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
        // SAFETY: a volatile read needs a valid, aligned pointer: the file
        // is valid (the type invariant). It is C's `READ_ONCE`:
        // `fcntl(F_SETFL)` may change the flags concurrently, which only
        // makes this answer stale.
        let flags = unsafe { ptr::read_volatile(&raw const (*self.as_ptr()).f_flags) };
        flags & bindings::O_NONBLOCK != 0
    }

    fn mode(&self) -> u32 {
        // SAFETY: as in `is_nonblocking`. The VFS may set other bits
        // concurrently (`FMODE_*` flags of its own), never the read/write
        // bits read here, which are fixed at open.
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

/// The user buffers of one `read_iter` call, which the driver fills.
pub(crate) struct IovDest<'a, 'data> {
    iov: &'a mut IovIterDest<'data>,
    nowait: bool,
}

impl IovDest<'_, '_> {
    /// Whether the caller asked not to wait (`IOCB_NOWAIT`: `RWF_NOWAIT`,
    /// or io_uring trying a read inline): answer `EAGAIN` rather than
    /// block for data.
    pub(crate) fn nowait(&self) -> bool {
        self.nowait
    }

    /// Bytes the caller asked for (all iovecs together).
    pub(crate) fn len(&self) -> usize {
        self.iov.len()
    }

    /// Copies `data` to the user buffers. `data` must fit (`len()` bytes at
    /// most: `EINVAL` otherwise); `EFAULT` if user memory faults, in which
    /// case part of `data` may have been copied.
    pub(crate) fn write_all(&mut self, data: &[u8]) -> Result {
        if data.len() > self.len() {
            return Err(EINVAL);
        }
        if self.iov.copy_to_iter(data) == data.len() {
            Ok(())
        } else {
            Err(EFAULT)
        }
    }
}

/// The user buffers of one `write_iter` call, which the driver consumes.
pub(crate) struct IovSource<'a, 'data> {
    iov: &'a mut IovIterSource<'data>,
}

impl IovSource<'_, '_> {
    /// Bytes the caller wrote (all iovecs together).
    pub(crate) fn len(&self) -> usize {
        self.iov.len()
    }

    /// Fills `buf` from the user buffers. `buf` must not be longer than
    /// `len()` (`EINVAL` otherwise); `EFAULT` if user memory faults, in
    /// which case `buf` may hold part of the input.
    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result {
        if buf.len() > self.len() {
            return Err(EINVAL);
        }
        if self.iov.copy_from_iter(buf) == buf.len() {
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
    fn read(&self, open: &Self::Open, file: &File, out: &mut IovDest<'_, '_>) -> Result<usize>;
    /// `write(2)`, `writev(2)`, `pwritev2(2)`, io_uring writes: one call
    /// with all its buffers; returns the number of bytes accepted.
    fn write(&self, open: &Self::Open, file: &File, input: &mut IovSource<'_, '_>)
        -> Result<usize>;
    /// `fcntl(F_SETFL)` changing `O_ASYNC`.
    fn fasync(&self, open: &Self::Open, fd: c_int, file: &File, on: bool) -> Result;
    /// `poll`/`select`/`epoll`: registers on the wait queues through
    /// `table`, returns the `EPOLL*` mask of what would not block now.
    /// Only queues that live as long as the device (`'a`) can be registered.
    fn poll<'a>(&'a self, open: &Self::Open, file: &File, table: &PollTable<'a>) -> u32;
}

/// The `poll_table` of one `poll` call on one file. `'a` is the lifetime of
/// the device's data: only wait queues that live that long can be
/// registered, because the VFS (epoll) keeps the registration until the
/// file is released.
///
/// # Invariants
///
/// `table` is null or the live table of the `poll` call on `file` this
/// value was made for, and lives no longer than that call.
pub(crate) struct PollTable<'a> {
    table: *mut bindings::poll_table_struct,
    file: *mut bindings::file,
    /// Invariant in `'a`: a `poll` implementation cannot shorten it to
    /// register a queue that lives less than the device.
    _device: PhantomData<fn(&'a ()) -> &'a ()>,
}

impl<'a> PollTable<'a> {
    /// `poll_wait()`: makes `queue` wake this poller. When it queues the
    /// poller, `poll_wait()` ends with a full barrier: the caller's
    /// readiness check that follows pairs with
    /// [`WaitQueue::wake_up_poll`]'s check for waiters.
    ///
    /// [`WaitQueue::wake_up_poll`]: crate::sync::WaitQueue::wake_up_poll
    pub(crate) fn register(&self, queue: &'a crate::sync::WaitQueue) {
        // SAFETY: `poll_wait` needs the table and file of a live `poll` call
        // (the type invariant) and a queue that outlives the registration:
        // `queue` lives as long as the device (`'a`), which outlives every
        // open file of it, and a poller is removed at the latest when its
        // file is released.
        unsafe { compat::poll::poll_wait(self.file, queue.as_ptr(), self.table) };
    }
}

/// A static `struct file_operations` table whose callbacks call `T`'s
/// methods; declared by [`file_operations_table!`], with the module as
/// `owner`. Without `llseek` and with `stream_open`, `lseek`/`pread`/
/// `pwrite` fail with `ESPIPE`; without `unlocked_ioctl`, every ioctl fails
/// with `ENOTTY`.
#[repr(transparent)]
pub(crate) struct FileOperationsTable<T> {
    raw: bindings::file_operations,
    _calls: PhantomData<fn(&T)>,
}

// SAFETY: `Sync` requires that `&FileOperationsTable` be usable from any
// task: the table is never written after compilation; the kernel only
// reads it.
unsafe impl<T> Sync for FileOperationsTable<T> {}

impl<T: FileOperations> FileOperationsTable<T> {
    /// The table of `T`, owned by `owner`, the module whose code the
    /// callbacks are.
    #[doc(hidden)]
    pub(crate) const fn new(owner: &'static ThisModule) -> Self {
        Self {
            raw: bindings::file_operations {
                owner: owner.as_ptr(),
                open: Some(open_callback::<T>),
                release: Some(release_callback::<T>),
                read_iter: Some(read_iter_callback::<T>),
                write_iter: Some(write_iter_callback::<T>),
                fasync: Some(fasync_callback::<T>),
                poll: Some(poll_callback::<T>),
                // SAFETY: `file_operations` is a C struct of pointers,
                // optional callbacks and integers, for which all-zero is a
                // valid value (no callback).
                ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
            },
            _calls: PhantomData,
        }
    }

    fn as_ptr(&'static self) -> *const bindings::file_operations {
        &self.raw
    }
}

/// Declares `static $name: FileOperationsTable<$t>`, owned by this module.
macro_rules! file_operations_table {
    ($name:ident, $t:ty) => {
        static $name: $crate::chrdev::FileOperationsTable<$t> =
            $crate::chrdev::FileOperationsTable::new($crate::compat::module::this_module());
    };
}
pub(crate) use file_operations_table;

/// A `struct cdev` and the guard area after it that the layout check reads
/// (see `compat::cdev`).
///
/// # Invariants
///
/// Once initialised, `cdev` is added (`cdev_add`) for the range its
/// owner's [`Region`] holds, calling the table it was made with.
#[repr(C)]
struct AddedCdev {
    cdev: Opaque<Cdev>,
    guard: [u64; cdev::GUARD_WORDS],
}

impl AddedCdev {
    /// Initialises a cdev calling `fops` and adds it for `count` numbers
    /// from `first`: from then on, those devices can be opened.
    ///
    /// # Safety
    ///
    /// `fops` must point to a valid `file_operations` table. The cdev must
    /// be deleted (`cdev_del`) before its memory is reused or `fops` goes
    /// away, and before the data the callbacks reach is dropped.
    unsafe fn add(
        fops: *const bindings::file_operations,
        first: bindings::dev_t,
        count: c_uint,
    ) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes (`pin_init_from_closure`'s
            // contract) and `guard` is one of its fields.
            unsafe { (&raw mut (*slot).guard).write([cdev::GUARD; cdev::GUARD_WORDS]) };
            // SAFETY: `slot` is valid (`pin_init_from_closure`'s contract);
            // only the field's address is taken. `Opaque<Cdev>` is a
            // transparent wrapper of a `Cdev`'s bytes.
            let cdev = unsafe { &raw mut (*slot).cdev }.cast::<Cdev>();
            // SAFETY: `cdev_init` fills a `struct cdev`-sized slot (`cdev`),
            // which stays in place (pinned), with a pointer to `fops`, a
            // static table.
            unsafe { cdev::cdev_init(cdev, fops) };
            // SAFETY: `check_layout` needs a cdev just initialised that no
            // other task can reach: it is not added yet. `guard` was
            // written above, so the reference is to initialised memory.
            let layout_ok = unsafe { cdev::check_layout(cdev, fops, &(*slot).guard) };
            if !layout_ok {
                pr_err!("struct cdev does not have the layout this driver was built for\n");
                return Err(EINVAL);
            }
            // SAFETY: the layout was checked above, and no other task can
            // reach the cdev yet; `fops` points to a valid table (the
            // caller's guarantee), so its `owner` can be read. The cdev holds the module while a file is
            // being opened (`cdev_get`), as the table does for open files:
            // no open can outlive the module's data.
            unsafe { (*cdev).owner = (*fops).owner };
            // INVARIANT: on success the cdev is added; on failure nothing
            // was added and the slot holds nothing to drop.
            // SAFETY: `cdev_add` needs an initialised cdev (above) that stays
            // in place until `cdev_del`: the caller's guarantee.
            to_result(unsafe { cdev::cdev_add(cdev, first, count) })
        };
        // SAFETY: `pin_init_from_closure` requires that the closure fully
        // initialise the slot when it returns `Ok` (both fields are
        // written) and leave nothing to drop when it returns `Err` (`Self`
        // has no destructor, and a failed `cdev_add` added nothing).
        unsafe { pin_init_from_closure(init) }
    }
}

/// The device nodes `/dev/<name><i>` of a class, one per device, each with
/// the sysfs attributes of its data.
///
/// # Invariants
///
/// Devices `first..first + count` of `class` exist, each made by
/// `device_create_with_groups`, and are destroyed only by `drop`, which
/// runs while the class (kept alive by the owner, [`Registered`]) lives.
struct Nodes {
    class: *mut bindings::class,
    first: bindings::dev_t,
    count: u32,
}

impl Nodes {
    /// Creates a node for each of `devices`, numbered from `region.first`.
    ///
    /// # Safety
    ///
    /// The value must be dropped before `class` and `devices` (the nodes'
    /// drvdata), and the attributes' data is a `T` that `devices` holds.
    unsafe fn create<T>(
        class: &Class,
        region: &Region,
        name: &'static CStr,
        devices: &KVec<Pin<KBox<T>>>,
        groups: &'static AttributeGroups<T>,
    ) -> Result<Self> {
        // INVARIANT: `count` counts the nodes created; on an error, those
        // are destroyed by dropping `nodes`.
        let mut nodes = Self {
            class: class.0.as_ptr(),
            first: region.first,
            count: 0,
        };
        for (index, data) in (0..region.count).zip(devices.iter()) {
            let drvdata: *const T = &**data;
            // SAFETY: `device_create_with_groups` needs a live class (`class`
            // lives longer than the nodes: the caller's guarantee), a static
            // NULL-terminated groups array, and drvdata that outlives the
            // node: `groups`' callbacks read a `T` (its type says so) and
            // `drvdata` is a `T` dropped after the nodes (the caller's
            // guarantee). The format takes a string and an `unsigned int`.
            let node = unsafe {
                bindings::device_create_with_groups(
                    nodes.class,
                    ptr::null_mut(),
                    region.first + index,
                    drvdata.cast_mut().cast(),
                    groups.as_ptr(),
                    c"%s%u".as_char_ptr(),
                    name.as_char_ptr(),
                    index,
                )
            };
            from_err_ptr(node)?;
            nodes.count = index + 1;
        }
        Ok(nodes)
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for index in (0..self.count).rev() {
            // SAFETY: `device_destroy` removes a device of a live class, once:
            // the type invariant.
            unsafe { bindings::device_destroy(self.class, self.first + index) };
        }
    }
}

/// The parts of [`CharDevices`] made before the cdev: device numbers,
/// class, device data and nodes. Fields drop in declaration order: nodes,
/// then the data they point at, the class, the numbers.
struct Registered<T> {
    _nodes: Nodes,
    devices: KVec<Pin<KBox<T>>>,
    _class: Class,
    region: Region,
}

/// The character devices of one driver: device numbers, class, the data
/// `T` of each device, their nodes, and one cdev for all of them.
///
/// Made by [`CharDevices::new`]: numbers, class, data and nodes first
/// (opening a node fails with `ENXIO` while no cdev covers its number),
/// and the cdev last. Adding the cdev is one `kobj_map` call for the whole
/// range, so the devices become usable all at once, after the last step
/// that can fail.
///
/// # Invariants
///
/// `added.cdev` is added for the numbers of `parts.region` and calls
/// `T`'s methods with the data in `parts.devices`; it is deleted first
/// when the value is dropped.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(crate) struct CharDevices<T: FileOperations> {
    /// First field: `open` finds `Self` from `inode->i_cdev`.
    #[pin]
    added: AddedCdev,
    parts: Registered<T>,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: `Send` requires that the value may move to another task (module
// exit may run on any): the C objects it holds belong to no task, and `T`
// is `Send` (`FileOperations`).
unsafe impl<T: FileOperations> Send for CharDevices<T> {}
// SAFETY: `Sync` requires that `&CharDevices` be usable from many tasks:
// the file callbacks share the `T`s (`T: Sync`), and the C objects are only
// handed to C functions that lock internally.
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
    /// `i` gets minor `i`), creates `/dev/<name><i>` for each with the
    /// sysfs attributes `groups`, then, in the initializer, adds the cdev
    /// calling `fops`. On an error, what was done is undone; no file can
    /// have been opened.
    ///
    /// # Safety
    ///
    /// Open files point into the value: it may be dropped only when none
    /// can be open, that is at module exit (open files hold the module, the
    /// owner of `fops`).
    pub(crate) unsafe fn new(
        name: &'static CStr,
        devices: KVec<Pin<KBox<T>>>,
        fops: &'static FileOperationsTable<T>,
        groups: &'static AttributeGroups<T>,
    ) -> Result<impl PinInit<Self, Error>> {
        let region = Region::alloc(device_count(devices.len())?, name)?;
        let class = Class::create(name)?;
        // SAFETY: `Registered` drops the nodes before the devices and the
        // class, and `groups` reads the `T`s of `devices`.
        let nodes = unsafe { Nodes::create(&class, &region, name, &devices, groups)? };
        let (first, count) = (region.first, region.count);
        let parts = Registered {
            _nodes: nodes,
            devices,
            _class: class,
            region,
        };
        // INVARIANT: the cdev is added last, for the region's numbers, with
        // the table calling `T`'s methods; `PinnedDrop` deletes it first.
        Ok(try_pin_init!(Self {
            parts,
            // SAFETY: `AddedCdev::add` requires a valid table, which `fops`
            // is (a static), and the cdev deleted before its memory, the
            // table or the data go: `PinnedDrop` deletes it before any
            // field is dropped.
            added <- unsafe { AddedCdev::add(fops.as_ptr(), first, count) },
            _pin: PhantomPinned,
        }? Error))
    }

    /// The dynamic major number.
    pub(crate) fn major(&self) -> u32 {
        self.parts.region.first >> bindings::MINORBITS
    }

    /// The data of the device `inode` belongs to.
    ///
    /// # Safety
    ///
    /// `inode` must be the inode of a file being opened on the cdev of a
    /// live `CharDevices<T>`.
    unsafe fn device_of<'a>(inode: *const bindings::inode) -> Option<&'a T> {
        // SAFETY: the caller guarantees that `inode` is a live inode of our
        // cdev, and that the `CharDevices` is live while the file is open.
        // The cdev is the first field of `AddedCdev` and `AddedCdev` the
        // first of `Self`, both `repr(C)`, so the cdev pointer is the
        // `CharDevices` pointer.
        let this = unsafe { &*compat::inode_cdev(inode).cast::<Self>() };
        // SAFETY: the caller guarantees that `inode` is valid.
        let rdev = unsafe { (*inode).i_rdev };
        let index = rdev.checked_sub(this.parts.region.first)?;
        this.parts.devices.get(index as usize).map(|d| &**d)
    }
}

#[pinned_drop]
impl<T: FileOperations> PinnedDrop for CharDevices<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `cdev_del` takes an added cdev (the type invariant), once;
        // no file is open (the contract of `new`). The other fields are
        // dropped after this.
        unsafe { cdev::cdev_del(self.added.cdev.get()) };
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
/// `open_callback::<T>`, that stays open for `'a`.
unsafe fn file_parts<'a, T: FileOperations>(
    file: *mut bindings::file,
) -> (&'a T, &'a T::Open, &'a File) {
    // SAFETY: per the caller's guarantee, the file is valid for `'a` and
    // `private_data` is the `OpenFile<T>` boxed by `open_callback`, released
    // only by `release_callback`; its device outlives its open files.
    unsafe {
        let open = &*(*file).private_data.cast::<OpenFile<T>>();
        (&*open.device, &open.open, File::from_raw(file))
    }
}

/// `file_operations::open`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by
/// `FileOperationsTable::<T>::new`, for files of a live `CharDevices<T>`.
unsafe extern "C" fn open_callback<T: FileOperations>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: the VFS calls `open` with a live inode of our cdev, whose
    // `CharDevices` is live (the caller's guarantee), and a file being
    // opened, valid for the call.
    let (device, file_ref) = unsafe { (CharDevices::<T>::device_of(inode), File::from_raw(file)) };
    let Some(device) = device else {
        return ENXIO.to_errno();
    };
    // SAFETY: `stream_open` takes the inode and file of an open call: the
    // VFS passed them to this one. A stream: no file position, no seek, no
    // pread.
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
            // SAFETY: `file` is valid and `private_data` is the driver's
            // until release, which takes the box back.
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
/// Only the VFS calls this, through a table made by
/// `FileOperationsTable::<T>::new`, for files of a live `CharDevices<T>`.
unsafe extern "C" fn release_callback<T: FileOperations>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: the VFS calls release once per successful open, with that
    // open's file: its refcount is 0, but the VFS frees it only after this
    // call, so it is valid for the call. `private_data` is the box
    // `open_callback` made.
    let (open, file_ref) = unsafe {
        (
            KBox::from_raw((*file).private_data.cast::<OpenFile<T>>()),
            File::from_raw(file),
        )
    };
    let OpenFile { device, open } = KBox::into_inner(open);
    // SAFETY: the device is a `T` of a live `CharDevices<T>` (the caller's
    // guarantee), which outlives its open files.
    unsafe { &*device }.release(open, file_ref);
    0
}

/// `file_operations::read_iter`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by
/// `FileOperationsTable::<T>::new`, for files of a live `CharDevices<T>`.
unsafe extern "C" fn read_iter_callback<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid for the call; its file was opened by
    // `open_callback` and stays open during the call.
    let (dev, open, file) = unsafe { file_parts::<T>((*iocb).ki_filp) };
    // SAFETY: `iocb` is valid for the call.
    let nowait = unsafe { (*iocb).ki_flags } & IOCB_NOWAIT != 0;
    // SAFETY: `from_raw` needs an `ITER_DEST` iterator, valid and used only
    // through the reference for the call, that is safe to write to: the
    // VFS passes `read_iter` such an iterator over the caller's buffers.
    let iov = unsafe { IovIterDest::from_raw(iter) };
    let mut out = IovDest { iov, nowait };
    match dev.read(open, file, &mut out) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `file_operations::write_iter`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by
/// `FileOperationsTable::<T>::new`, for files of a live `CharDevices<T>`.
unsafe extern "C" fn write_iter_callback<T: FileOperations>(
    iocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: `iocb` is valid for the call; its file was opened by
    // `open_callback` and stays open during the call.
    let (dev, open, file) = unsafe { file_parts::<T>((*iocb).ki_filp) };
    // SAFETY: `from_raw` needs an `ITER_SOURCE` iterator, valid and used
    // only through the reference for the call, that is safe to read from:
    // the VFS passes `write_iter` such an iterator over the caller's buffers.
    let iov = unsafe { IovIterSource::from_raw(iter) };
    let mut input = IovSource { iov };
    match dev.write(open, file, &mut input) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `file_operations::fasync`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by
/// `FileOperationsTable::<T>::new`, for files of a live `CharDevices<T>`.
unsafe extern "C" fn fasync_callback<T: FileOperations>(
    fd: c_int,
    file: *mut bindings::file,
    on: c_int,
) -> c_int {
    // SAFETY: `fasync` is only called on files opened by `open_callback`,
    // open for the call.
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
/// Only the VFS calls this, through a table made by
/// `FileOperationsTable::<T>::new`, for files of a live `CharDevices<T>`.
unsafe extern "C" fn poll_callback<T: FileOperations>(
    file: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: `poll` is only called on files opened by `open_callback`,
    // open for the call.
    let (dev, open, file_ref) = unsafe { file_parts::<T>(file) };
    // INVARIANT: `table` (null or live) and `file` are this call's, and the
    // value is dropped when the call returns.
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

// SAFETY: `Send` requires that the queue may be used from another task: the
// list belongs to no task.
unsafe impl Send for FasyncQueue {}
// SAFETY: `Sync` requires that `&FasyncQueue` be usable from many tasks at
// once: the list is only touched through `fasync_helper` and
// `kill_fasync`, which lock internally.
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
        // SAFETY: `fasync_helper` needs a live file (`file` is, for the
        // call), a valid list head (`self`), and a file it adds to be
        // removed before it is released: the caller's guarantee.
        let ret = unsafe { bindings::fasync_helper(fd, file.as_ptr(), on.into(), self.0.get()) };
        to_result(ret.min(0))?;
        Ok(ret > 0)
    }

    /// Removes `file`, whatever its `O_ASYNC` state (on release); true when
    /// it was subscribed.
    pub(crate) fn remove(&self, file: &File) -> bool {
        // SAFETY: `update` requires that a file added be removed before its
        // release: this removes it, leaving no pointer behind. It cannot
        // fail: removing allocates nothing.
        unsafe { self.update(-1, file, false) }.unwrap_or(false)
    }

    /// Sends `signal` to every subscriber, with `si_band` from `band`.
    pub(crate) fn notify(&self, signal: u32, band: u32) {
        // SAFETY: `kill_fasync` needs a valid list head (`self`; an empty
        // list is fine) and walks the entries under RCU.
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
/// `dev` must be a node made by [`CharDevices::<T>::new`] (drvdata
/// points at a live `T`) and `buf` the page sysfs provides.
#[doc(hidden)]
pub(crate) unsafe fn show_attribute<T>(
    dev: *mut bindings::device,
    buf: *mut c_char,
    value: ShowValue<T>,
) -> isize {
    // SAFETY: the caller guarantees that drvdata is the node's live `T`;
    // sysfs removes the attributes (waiting for running `show`s) before
    // the node goes away, and the node goes before the `T`.
    let data = unsafe { &*(*dev).driver_data.cast::<T>() };
    // SAFETY: `sysfs_emit` needs the page sysfs provides (`buf`, the
    // caller's guarantee) and arguments for its format: one u64.
    unsafe { bindings::sysfs_emit(buf, c"%llu\n".as_char_ptr(), value(data)) as isize }
}

/// A static attribute table.
#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct Attribute(pub(crate) bindings::device_attribute);
// SAFETY: `Sync` requires that `&Attribute` be usable from any task: the
// attribute is never written after compilation; the kernel only reads it.
unsafe impl Sync for Attribute {}

#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct AttributePointers<const N: usize>(pub(crate) [*mut bindings::attribute; N]);
// SAFETY: `Sync` requires that `&AttributePointers` be usable from any
// task: never written after compilation; the kernel only reads it.
unsafe impl<const N: usize> Sync for AttributePointers<N> {}

#[doc(hidden)]
#[repr(transparent)]
pub(crate) struct AttributeGroup(pub(crate) bindings::attribute_group);
// SAFETY: `Sync` requires that `&AttributeGroup` be usable from any task:
// never written after compilation; the kernel only reads it.
unsafe impl Sync for AttributeGroup {}

/// A NULL-terminated list of attribute groups, as `device_create_with_groups`
/// takes it, whose `show` callbacks read a `T` from the node's drvdata.
/// Made only by [`declare_attribute_groups!`].
pub(crate) struct AttributeGroups<T> {
    groups: [*const bindings::attribute_group; 2],
    _reads: PhantomData<fn(&T)>,
}
// SAFETY: `Sync` requires that `&AttributeGroups` be usable from any task:
// never written after compilation; the kernel only reads it.
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
    // SAFETY: `device_attribute` is a C struct of pointers, optional
    // callbacks and integers, for which all-zero is a valid value.
    let mut attr: bindings::device_attribute =
        unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    attr.attr.name = as_char_ptr_in_const_context(name);
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
