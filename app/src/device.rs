//! The asyncn device from user space: open modes, message I/O, `O_ASYNC`
//! subscription, and the module's parameters in sysfs.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::unistd::Pid;

use crate::sys::rtsig::set_owner;

/// How a device file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
}

/// One open file of an asyncn device.
#[derive(Debug)]
pub struct Device {
    file: File,
}

impl Device {
    /// Opens `path` with `access`, adding `extra` flags (such as `O_NONBLOCK`).
    pub fn open_with(path: &Path, access: Access, extra: OFlag) -> io::Result<Self> {
        let mut options = OpenOptions::new();
        match access {
            Access::Read => options.read(true),
            Access::Write => options.write(true),
            Access::ReadWrite => options.read(true).write(true),
        };
        let file = options
            .custom_flags(extra.bits())
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", path.display())))?;
        Ok(Self { file })
    }

    /// Opens `path` with `access` and no extra flags.
    pub fn open(path: &Path, access: Access) -> io::Result<Self> {
        Self::open_with(path, access, OFlag::empty())
    }

    /// Writes one message; returns the number of bytes the device accepted.
    pub fn send(&mut self, message: &[u8]) -> io::Result<usize> {
        self.file.write(message)
    }

    /// Reads the current message into a buffer of `capacity` bytes.
    pub fn receive(&self, capacity: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; capacity];
        let n = (&self.file).read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Subscribes this open file to `SIGIO`: owner `pid`, `O_ASYNC` on.
    pub fn subscribe(&self, pid: Pid) -> io::Result<()> {
        set_owner(self.as_fd(), pid)?;
        self.set_async(true)
    }

    /// Sets or clears `O_ASYNC`, keeping the other status flags.
    pub fn set_async(&self, on: bool) -> io::Result<()> {
        Ok(set_async(self.file.as_fd(), on)?)
    }

    /// The open file itself (a subscription stays with it).
    pub fn into_file(self) -> File {
        self.file
    }

    /// The underlying file, shared: `&File` reads and writes too.
    pub fn file_ref(&self) -> &File {
        &self.file
    }

    /// The underlying file, for the system calls the cases probe directly.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// The module's parameters, as the module exposes them in sysfs.
#[derive(Clone, Copy, Debug)]
pub struct ModuleParams {
    pub devices: u32,
    pub buffer_size: usize,
}

const PARAMS_DIR: &str = "/sys/module/asyncn/parameters";

impl ModuleParams {
    /// Reads `/sys/module/asyncn/parameters/{devices,buffer_size}`.
    pub fn read() -> io::Result<Self> {
        Ok(Self {
            devices: read_param("devices")?,
            buffer_size: read_param::<usize>("buffer_size")?,
        })
    }
}

fn read_param<T: std::str::FromStr>(name: &str) -> io::Result<T> {
    let path = Path::new(PARAMS_DIR).join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{}: {e} (is the module loaded?)", path.display()),
        )
    })?;
    text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a number: {:?}", path.display(), text.trim()),
        )
    })
}

/// `/dev/asyncnN` for device `index`, in the directory of `first`.
pub fn node_path(first: &Path, index: u32) -> std::path::PathBuf {
    let dir = first.parent().unwrap_or_else(|| Path::new("/dev"));
    dir.join(format!("asyncn{index}"))
}

/// The nodes of the first `min(devices, max)` devices, from `first` on.
pub fn node_paths(first: &Path, devices: u32, max: usize) -> Vec<std::path::PathBuf> {
    (0..(devices as usize).min(max) as u32)
        .map(|i| node_path(first, i))
        .collect()
}

/// The sysfs directory of a device node: `/sys/class/asyncn/<node name>`.
pub fn sysfs_dir(node: &Path) -> std::path::PathBuf {
    let name = node.file_name().unwrap_or_default();
    Path::new("/sys/class/asyncn").join(name)
}

/// Sets or clears `O_ASYNC` on `fd`, keeping its other status flags.
pub fn set_async(fd: BorrowedFd, on: bool) -> nix::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    let flags = if on {
        flags | OFlag::O_ASYNC
    } else {
        flags - OFlag::O_ASYNC
    };
    fcntl(fd, FcntlArg::F_SETFL(flags)).map(drop)
}

/// The statistics files of a device's sysfs directory.
pub const STATISTICS: [&str; 6] = [
    "buffer_size",
    "readers",
    "writers",
    "subscribers",
    "writes",
    "notifications",
];

/// Every statistic of the device whose sysfs directory is `dir`.
pub fn read_stats(dir: &Path) -> std::io::Result<BTreeMap<&'static str, u64>> {
    let mut stats = BTreeMap::new();
    for name in STATISTICS {
        let text = std::fs::read_to_string(dir.join(name))?;
        let value = text.trim().parse().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{name}: {text:?}"))
        })?;
        stats.insert(name, value);
    }
    Ok(stats)
}
