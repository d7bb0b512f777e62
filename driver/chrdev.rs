// SPDX-License-Identifier: GPL-2.0-only

//! A thin safe layer over the C character-device API.
//!
//! The kernels we support have no Rust abstraction for classic character
//! devices, so this file wraps the few C objects a driver needs, each owning
//! what it registered and undoing it on drop:
//!
//! - [`Region`]: a range of device numbers (`alloc_chrdev_region`);
//! - [`Class`]: a device class, so devtmpfs/udev/mdev create `/dev` nodes;
//! - [`CharDev`]: a `struct cdev` next to the driver's per-device data, and
//!   its device node (`cdev_add` + `device_create`);
//! - [`FileOperations`] and [`Vtable`]: the `struct file_operations` table,
//!   whose C callbacks call safe trait methods;
//! - [`File`]: the `struct file` of an open call;
//! - [`FasyncQueue`]: the list of `O_ASYNC` subscribers (`fasync_helper`,
//!   `kill_fasync`);
//! - [`PollTable`]: the `poll_table` of a `poll` call (`poll_wait`);
//! - [`ReadOnlyAttributes`] and [`declare_attribute_groups!`]: read-only
//!   sysfs files of each device node.
//!
//! Lifetimes: a `CharDev` must be dropped before the `Class` and `Region` it
//! was registered with. Open files hold a reference on the module (the
//! table's `owner`), so no `CharDev` is dropped while a file is open.

use crate::compat;
use core::{ffi::CStr, marker::PhantomPinned, ptr};
use kernel::{
    bindings,
    error::{from_err_ptr, to_result, Error},
    ffi::{c_char, c_int, c_uint},
    prelude::*,
    types::Opaque,
    uaccess::{UserSliceReader, UserSliceWriter},
    ThisModule,
};

/// `struct cdev` and its functions, which the kernel's generated bindings
/// leave opaque (`<linux/cdev.h>` is not among the headers bindgen reads).
///
/// The layout mirrors include/linux/cdev.h, unchanged since Linux 2.6.
/// `__randomize_layout` does not apply: `CONFIG_RUST` excludes RANDSTRUCT.
mod cdev_sys {
    use kernel::{bindings, ffi::c_int, ffi::c_uint};

    #[repr(C)]
    pub(super) struct cdev {
        pub(super) kobj: bindings::kobject,
        pub(super) owner: *mut bindings::module,
        pub(super) ops: *const bindings::file_operations,
        pub(super) list: bindings::list_head,
        pub(super) dev: bindings::dev_t,
        pub(super) count: c_uint,
    }

    // Empty C structs (`lockdep_map` without lockdep) trip this lint, as in the
    // kernel's own `bindings` crate.
    #[allow(improper_ctypes)]
    extern "C" {
        pub(super) fn cdev_init(cdev: *mut cdev, fops: *const bindings::file_operations);
        pub(super) fn cdev_add(cdev: *mut cdev, dev: bindings::dev_t, count: c_uint) -> c_int;
        pub(super) fn cdev_del(cdev: *mut cdev);
    }
}

/// `struct poll_table_struct`, opaque in the generated bindings
/// (`<linux/poll.h>` is not among the headers bindgen reads). Layout from
/// include/linux/poll.h, unchanged since Linux 2.6.
mod poll_sys {
    use kernel::bindings;

    pub(super) type PollQueueProc = unsafe extern "C" fn(
        *mut bindings::file,
        *mut bindings::wait_queue_head,
        *mut poll_table_struct,
    );

    #[repr(C)]
    pub(super) struct poll_table_struct {
        pub(super) qproc: Option<PollQueueProc>,
        pub(super) key: bindings::__poll_t,
    }
}

/// Poll event bits (include/uapi/asm-generic/poll.h; the same values on
/// arm, arm64 and x86). `(__force __poll_t)` casts hide them from bindgen.
pub(crate) mod poll {
    pub(crate) const POLLIN: u32 = 0x0001;
    pub(crate) const POLLOUT: u32 = 0x0004;
    pub(crate) const POLLRDNORM: u32 = 0x0040;
    pub(crate) const POLLWRNORM: u32 = 0x0100;
}

/// A range of character device numbers.
pub(crate) struct Region {
    first: bindings::dev_t,
    count: c_uint,
}

impl Region {
    /// Allocates `count` device numbers with a dynamic major.
    pub(crate) fn alloc(count: u32, name: &'static CStr) -> Result<Self> {
        let mut first: bindings::dev_t = 0;
        // SAFETY: `first` is valid for writes; `name` is a static C string.
        to_result(unsafe { bindings::alloc_chrdev_region(&mut first, 0, count, c_chars(name)) })?;
        Ok(Self { first, count })
    }

    /// The dynamic major number.
    pub(crate) fn major(&self) -> u32 {
        self.first >> bindings::MINORBITS
    }

    /// The device number of the `index`-th device of the region.
    fn devt(&self, index: u32) -> Result<bindings::dev_t> {
        if index >= self.count {
            return Err(EINVAL);
        }
        Ok(self.first + index)
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the range was allocated by `alloc` and is released once.
        unsafe { bindings::unregister_chrdev_region(self.first, self.count) };
    }
}

/// A device class (`/sys/class/<name>`).
pub(crate) struct Class(ptr::NonNull<bindings::class>);

impl Class {
    /// Creates the class `name`.
    pub(crate) fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a static C string; the class keeps the pointer.
        let raw = from_err_ptr(unsafe { bindings::class_create(c_chars(name)) })?;
        ptr::NonNull::new(raw).map(Self).ok_or(ENOMEM)
    }
}

impl Drop for Class {
    fn drop(&mut self) {
        // SAFETY: the class was created by `create` and is destroyed once,
        // after every device of it (see the module documentation).
        unsafe { bindings::class_destroy(self.0.as_ptr()) };
    }
}

// SAFETY: the class is only passed to C functions that do their own locking.
unsafe impl Send for Class {}
// SAFETY: as above.
unsafe impl Sync for Class {}

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
        let flags = unsafe { core::ptr::read_volatile(&(*self.as_ptr()).f_flags) };
        flags & bindings::O_NONBLOCK != 0
    }

    fn mode(&self) -> u32 {
        // SAFETY: `f_mode` is set before `open` and not changed concurrently
        // in the bits read here.
        unsafe { (*self.as_ptr()).f_mode }
    }
}

// `FMODE_*` are `(__force fmode_t)` casts that bindgen cannot evaluate; their
// values are part of the VFS ABI (include/linux/fs.h).
const FMODE_READ: u32 = 1 << 0;
const FMODE_WRITE: u32 = 1 << 1;

/// The callbacks a character device implements; `Self` is the per-device
/// data stored in its [`CharDev`].
pub(crate) trait FileOperations: Sync + Sized {
    /// Data of one open file, kept in `file->private_data` until release.
    type Open: Send + Sync;

    /// `open(2)`.
    fn open(&self, file: &File) -> Result<Self::Open>;
    /// Last `close(2)` of the open file.
    fn release(&self, open: Self::Open, file: &File);
    /// `read(2)`: fills `out`, returns the number of bytes written to it.
    fn read(&self, open: &Self::Open, file: &File, out: &mut UserSliceWriter) -> Result<usize>;
    /// `write(2)`: consumes `input`, returns the number of bytes accepted.
    fn write(&self, open: &Self::Open, file: &File, input: &mut UserSliceReader) -> Result<usize>;
    /// `fcntl(F_SETFL)` changing `O_ASYNC`.
    fn fasync(&self, open: &Self::Open, fd: c_int, file: &File, on: bool) -> Result;
    /// `poll`/`select`/`epoll`: registers on the wait queues through
    /// `table`, returns the `POLL*` mask of what would not block now.
    fn poll(&self, open: &Self::Open, file: &File, table: &PollTable) -> u32;
}

/// The `poll_table` of one `poll` call.
pub(crate) struct PollTable(*mut poll_sys::poll_table_struct);

impl PollTable {
    /// `poll_wait()`: makes `queue` wake this poller. Ends with a full
    /// barrier (as `sock_poll_wait()` does): the caller's readiness check
    /// that follows pairs with [`WaitQueue::wake_all`]'s check for waiters.
    ///
    /// [`WaitQueue::wake_all`]: crate::sync::WaitQueue::wake_all
    pub(crate) fn register(&self, file: &File, queue: &crate::sync::WaitQueue) {
        if !self.0.is_null() {
            // SAFETY: a non-null table is valid for the duration of the
            // `poll` call; `qproc` is the VFS's queueing function for it.
            unsafe {
                if let Some(qproc) = (*self.0).qproc {
                    qproc(file.as_ptr(), queue.as_ptr(), self.0);
                }
            }
        }
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    }
}

/// A `struct file_operations` table of this module.
#[repr(transparent)]
pub(crate) struct Vtable(bindings::file_operations);

// SAFETY: the table is immutable; the kernel only reads it.
unsafe impl Sync for Vtable {}

impl Vtable {
    /// The table calling `T`'s methods. Without `llseek` and with
    /// `nonseekable_open`, `lseek`/`pread`/`pwrite` fail with `ESPIPE`;
    /// without `unlocked_ioctl`, every ioctl fails with `ENOTTY`.
    #[doc(hidden)]
    pub(crate) const fn new<T: FileOperations>(owner: *mut bindings::module) -> Self {
        Self(bindings::file_operations {
            owner,
            open: Some(open_callback::<T>),
            release: Some(release_callback::<T>),
            read: Some(read_callback::<T>),
            write: Some(write_callback::<T>),
            fasync: Some(fasync_callback::<T>),
            poll: Some(poll_callback::<T>),
            // SAFETY: all-zero is a valid `file_operations` (no callback).
            ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
        })
    }
}

/// Declares `static $name: Vtable` for the [`FileOperations`] type `$t`,
/// owned by this module (so open files pin the module in memory).
macro_rules! declare_file_operations {
    ($name:ident, $t:ty) => {
        static $name: $crate::chrdev::Vtable = $crate::chrdev::Vtable::new::<$t>(
            // SAFETY: `__this_module` is the loader-provided `struct module`
            // of this object; only its address is taken.
            unsafe {
                #[allow(improper_ctypes)]
                extern "C" {
                    static __this_module: ::kernel::types::Opaque<::kernel::bindings::module>;
                }
                __this_module.get()
            },
        );
    };
}
pub(crate) use declare_file_operations;

/// A character device: `struct cdev`, the driver's data `T`, and (once
/// registered) its device node.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(crate) struct CharDev<T> {
    /// First field: `open` finds the `CharDev` from `inode->i_cdev`.
    #[pin]
    cdev: Opaque<cdev_sys::cdev>,
    #[pin]
    data: T,
    registered: Option<Registered>,
    #[pin]
    _pin: PhantomPinned,
}

struct Registered {
    devt: bindings::dev_t,
    class: *mut bindings::class,
}

// SAFETY: the raw pointers are only handed to C functions that lock
// internally; `T` is shared across tasks by the file callbacks.
unsafe impl<T: Sync + Send> Send for CharDev<T> {}
// SAFETY: as above.
unsafe impl<T: Sync + Send> Sync for CharDev<T> {}

impl<T: FileOperations> CharDev<T> {
    /// An initialiser of an unregistered device with the data `data`.
    pub(crate) fn new(
        module: &'static ThisModule,
        vtable: &'static Vtable,
        data: impl PinInit<T, Error>,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned; `vtable` is static.
            cdev <- Opaque::ffi_init(|slot: *mut cdev_sys::cdev| unsafe {
                cdev_sys::cdev_init(slot, &vtable.0);
                (*slot).owner = module.as_ptr();
            }),
            data <- data,
            registered: None,
            _pin: PhantomPinned,
        })
    }

    /// Makes the device live as `/dev/<name><index>`: adds the cdev for the
    /// `index`-th number of `region` and creates the node in `class`.
    /// `groups` are the sysfs attributes of the node (see
    /// [`declare_attribute_groups!`]); they find `T` as the node's drvdata.
    pub(crate) fn register(
        self: Pin<&mut Self>,
        region: &Region,
        class: &Class,
        groups: &'static AttributeGroups,
        name: &'static CStr,
        index: u32,
    ) -> Result {
        let devt = region.devt(index)?;
        // SAFETY: the device is not moved out of the pin; only a field that
        // is not structurally pinned is written below.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: the cdev was initialised by `new` and is pinned; from here
        // on files may be opened, and `data` is fully initialised.
        to_result(unsafe { cdev_sys::cdev_add(this.cdev.get(), devt, 1) })?;
        let drvdata: *const T = &this.data;
        // SAFETY: `class` is live; `groups` is a static, NULL-terminated
        // array; `drvdata` outlives the node (removed in `drop`); the format
        // takes a string and an `unsigned int`.
        let node = unsafe {
            bindings::device_create_with_groups(
                class.0.as_ptr(),
                ptr::null_mut(),
                devt,
                drvdata.cast_mut().cast(),
                groups.as_ptr(),
                c_chars(c"%s%u"),
                c_chars(name),
                index,
            )
        };
        if let Err(e) = from_err_ptr(node) {
            // SAFETY: the cdev was added above and no node refers to it.
            unsafe { cdev_sys::cdev_del(this.cdev.get()) };
            return Err(e);
        }
        this.registered = Some(Registered {
            devt,
            class: class.0.as_ptr(),
        });
        Ok(())
    }

    /// # Safety
    ///
    /// `inode` must be the inode of a file being opened on a cdev that is
    /// the `cdev` field of a live `CharDev<T>`.
    unsafe fn from_inode<'a>(inode: *const bindings::inode) -> &'a Self {
        // SAFETY: `cdev` is the first field of the `repr(C)` struct, so the
        // cdev pointer is the `CharDev` pointer; the caller guarantees it
        // is live for as long as the file is open.
        unsafe { &*compat::inode_cdev(inode).cast::<Self>() }
    }
}

#[pinned_drop]
impl<T> PinnedDrop for CharDev<T> {
    fn drop(self: Pin<&mut Self>) {
        if let Some(reg) = &self.registered {
            // SAFETY: node and cdev were added by `register`; the class is
            // still alive (it is dropped after its devices).
            unsafe {
                bindings::device_destroy(reg.class, reg.devt);
                cdev_sys::cdev_del(self.cdev.get());
            }
        }
    }
}

/// The `CharDev` data and the open-file data behind a `struct file`.
///
/// # Safety
///
/// `file` must be an open file of a `CharDev<T>`, opened by `open_callback`.
unsafe fn file_parts<'a, T: FileOperations>(
    file: *mut bindings::file,
) -> (&'a T, &'a T::Open, &'a File) {
    // SAFETY: per the contract, `f_inode` is a cdev inode of a live
    // `CharDev<T>` and `private_data` is the `T::Open` boxed by `open`.
    unsafe {
        let dev = CharDev::<T>::from_inode((*file).f_inode);
        let open = &*(*file).private_data.cast::<T::Open>();
        (&dev.data, open, File::from_raw(file))
    }
}

/// `file_operations::open`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by [`Vtable::new`], for
/// files of a live `CharDev<T>`.
unsafe extern "C" fn open_callback<T: FileOperations>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: the VFS calls `open` with a valid inode of one of our cdevs
    // and a valid file being opened.
    let (dev, file_ref) = unsafe { (CharDev::<T>::from_inode(inode), File::from_raw(file)) };
    // SAFETY: as above; the device has no file position.
    let ret = unsafe { bindings::nonseekable_open(inode, file) };
    if ret != 0 {
        return ret;
    }
    // Allocate first, so that a failed allocation cannot leave `T::open`'s
    // effects without a matching `release`.
    let slot = match KBox::<T::Open>::new_uninit(GFP_KERNEL) {
        Ok(slot) => slot,
        Err(_) => return ENOMEM.to_errno(),
    };
    match dev.data.open(file_ref) {
        Ok(open) => {
            let boxed = KBox::write(slot, open);
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
/// Only the VFS calls this, through a table made by [`Vtable::new`], for
/// files of a live `CharDev<T>`.
unsafe extern "C" fn release_callback<T: FileOperations>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: called once per successful open, with that open's inode and
    // file; `private_data` is the box made by `open_callback`.
    let (dev, open, file_ref) = unsafe {
        (
            CharDev::<T>::from_inode(inode),
            KBox::from_raw((*file).private_data.cast::<T::Open>()),
            File::from_raw(file),
        )
    };
    dev.data.release(KBox::into_inner(open), file_ref);
    0
}

/// `file_operations::read`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by [`Vtable::new`], for
/// files of a live `CharDev<T>`.
unsafe extern "C" fn read_callback<T: FileOperations>(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    _pos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: `read` is only called on files opened by `open_callback`.
    let (dev, open, file) = unsafe { file_parts::<T>(file) };
    let mut out = compat::user_slice(buf.cast(), count).writer();
    match dev.read(open, file, &mut out) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `file_operations::write`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by [`Vtable::new`], for
/// files of a live `CharDev<T>`.
unsafe extern "C" fn write_callback<T: FileOperations>(
    file: *mut bindings::file,
    buf: *const c_char,
    count: usize,
    _pos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: `write` is only called on files opened by `open_callback`.
    let (dev, open, file) = unsafe { file_parts::<T>(file) };
    let mut input = compat::user_slice(buf.cast_mut().cast(), count).reader();
    match dev.write(open, file, &mut input) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// `file_operations::fasync`.
///
/// # Safety
///
/// Only the VFS calls this, through a table made by [`Vtable::new`], for
/// files of a live `CharDev<T>`.
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
/// Only the VFS calls this, through a table made by [`Vtable::new`], for
/// files of a live `CharDev<T>`.
unsafe extern "C" fn poll_callback<T: FileOperations>(
    file: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: `poll` is only called on files opened by `open_callback`.
    let (dev, open, file) = unsafe { file_parts::<T>(file) };
    dev.poll(open, file, &PollTable(table.cast()))
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
    pub(crate) fn update(&self, fd: c_int, file: &File, on: bool) -> Result<bool> {
        // SAFETY: `file` is a live open file; the head is valid.
        let ret = unsafe { bindings::fasync_helper(fd, file.as_ptr(), on.into(), self.0.get()) };
        to_result(ret.min(0))?;
        Ok(ret > 0)
    }

    /// Removes `file`, whatever its `O_ASYNC` state (on release); true when
    /// it was subscribed.
    pub(crate) fn remove(&self, file: &File) -> bool {
        // Removal cannot fail: it allocates nothing.
        self.update(-1, file, false).unwrap_or(false)
    }

    /// Sends `signal` to every subscriber, with `si_band` from `band`.
    pub(crate) fn notify(&self, signal: u32, band: u32) {
        // SAFETY: the head is valid; `kill_fasync` copes with an empty list.
        unsafe { bindings::kill_fasync(self.0.get(), signal as c_int, band as c_int) };
    }
}

/// Read-only sysfs attributes of a device node: attribute `index` of the
/// table declared with [`declare_attribute_groups!`] shows `show(index)`.
pub(crate) trait ReadOnlyAttributes: Sync {
    fn show(&self, index: usize) -> u64;
}

/// `device_attribute::show` for attribute `I` of `T`.
///
/// # Safety
///
/// Only sysfs calls this, for a node made by [`CharDev::register`] with
/// drvdata pointing at a live `T`.
#[doc(hidden)]
pub(crate) unsafe extern "C" fn show_attribute<T: ReadOnlyAttributes, const I: usize>(
    dev: *mut bindings::device,
    _attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: per the contract, drvdata is the node's `T`; sysfs removes the
    // attributes (waiting for running `show`s) before the node goes away.
    let data = unsafe { &*(*dev).driver_data.cast::<T>() };
    let value: u64 = data.show(I);
    // SAFETY: `buf` is the page sysfs provides; the format takes one u64.
    unsafe { bindings::sysfs_emit(buf, c_chars(c"%llu\n"), value) as isize }
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
/// takes it.
#[repr(transparent)]
pub(crate) struct AttributeGroups(pub(crate) [*const bindings::attribute_group; 2]);
// SAFETY: as above.
unsafe impl Sync for AttributeGroups {}

impl AttributeGroups {
    fn as_ptr(&'static self) -> *mut *const bindings::attribute_group {
        self.0.as_ptr().cast_mut()
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

/// A read-only (0444) attribute named `name` showing value `I` of `T`.
#[doc(hidden)]
pub(crate) const fn attribute<T: ReadOnlyAttributes, const I: usize>(
    name: &'static CStr,
) -> Attribute {
    // SAFETY: all-zero is a valid `device_attribute` (no callbacks).
    let mut attr: bindings::device_attribute =
        unsafe { core::mem::MaybeUninit::zeroed().assume_init() };
    attr.attr.name = c_chars(name);
    attr.attr.mode = 0o444;
    compat::set_show(&mut attr, show_attribute::<T, I>);
    Attribute(attr)
}

/// Declares `static $groups: AttributeGroups` with one read-only attribute
/// per name; attribute `i` shows `<$t as ReadOnlyAttributes>::show(i)`.
macro_rules! declare_attribute_groups {
    ($groups:ident, $t:ty, [$($index:literal => $name:literal),+ $(,)?]) => {
        static $groups: $crate::chrdev::AttributeGroups = {
            use $crate::chrdev::{
                attribute, Attribute, AttributeGroup, AttributeGroups, AttributePointers,
            };
            use ::core::ptr::{addr_of, null, null_mut};

            static ATTRS: [Attribute; [$($index),+].len()] =
                [$(attribute::<$t, $index>($crate::chrdev::c_string(concat!($name, "\0")))),+];
            static POINTERS: AttributePointers<{ [$($index),+].len() + 1 }> =
                AttributePointers([$(addr_of!(ATTRS[$index].0.attr).cast_mut(),)+ null_mut()]);
            static GROUP: AttributeGroup = AttributeGroup($crate::compat::attribute_group(
                addr_of!(POINTERS.0).cast_mut().cast(),
            ));
            AttributeGroups([addr_of!(GROUP.0), null()])
        };
    };
}
pub(crate) use declare_attribute_groups;
