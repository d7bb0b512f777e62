//! What must hold after a stress or fuzz run, once every process that
//! used the devices is gone: nothing counted as open or subscribed, the
//! buffers freed, the write counter consistent, and the devices working
//! (checks R5, R25, R26).

use std::collections::BTreeMap;
use std::io;
use std::ops::RangeInclusive;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::unistd::getpid;

use crate::device::{sysfs_dir, Access, Device};
use crate::harness::{wait, CaseResult};
use crate::sys::rtsig;

use crate::device::read_stats;
use crate::harness::Tap;

/// The sysfs statistics of each device before the run.
pub struct Baseline(Vec<BTreeMap<&'static str, u64>>);

impl Baseline {
    pub fn read(paths: &[PathBuf]) -> std::io::Result<Self> {
        paths
            .iter()
            .map(|p| read_stats(&sysfs_dir(p)))
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// Checks the devices after run `label`; `writes` is the range the
/// devices' total write counter must have grown by (`None`: unknown).
pub fn check(
    tap: &mut Tap,
    label: &str,
    paths: &[PathBuf],
    before: &Baseline,
    writes: Option<RangeInclusive<u64>>,
    buffer_size: usize,
) -> CaseResult {
    let mut grown = 0;
    for (path, before) in paths.iter().zip(&before.0) {
        let after = read_stats(&sysfs_dir(path))?;
        let open: Vec<String> = ["readers", "writers", "subscribers"]
            .iter()
            .map(|n| format!("{n} {}", after[n]))
            .collect();
        tap.check(
            ["readers", "writers", "subscribers"]
                .iter()
                .all(|n| after[n] == before[n]),
            format!(
                "{} back to where it was: {}",
                path.display(),
                open.join(", ")
            ),
        );
        grown += after["writes"] - before["writes"];
    }
    if let Some(range) = writes {
        tap.check(
            range.contains(&grown),
            format!(
                "the devices counted {grown} writes; the workers completed {} and started {}",
                range.start(),
                range.end()
            ),
        );
    }
    for path in paths {
        // A fresh buffer after the last close: nothing to read.
        let fresh = Device::open_with(path, Access::Read, OFlag::O_NONBLOCK)?;
        let read = fresh.receive(buffer_size);
        tap.check(
            read.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EAGAIN),
            format!(
                "{} was freed with its last close: a new open reads nothing ({})",
                path.display(),
                match read {
                    Ok(m) => format!("read {} bytes", m.len()),
                    Err(e) => e.to_string(),
                }
            ),
        );
    }
    // And the first device still does its job.
    let works = round_trip(&paths[0], buffer_size, b"still working")?;
    tap.check(
        works,
        format!("after the {label} run a write is read back and notified once"),
    );
    Ok(())
}

/// Opens `device`, subscribes with a queued signal, writes `message` and
/// reads it back: true when exactly one signal came and the message is
/// intact.
pub fn round_trip(device: &Path, buffer_size: usize, message: &[u8]) -> io::Result<bool> {
    let signal = rtsig::rt_signal(6);
    rtsig::block(signal)?;
    let reader = Device::open(device, Access::Read)?;
    rtsig::set_signal(reader.as_fd(), signal)?;
    reader.subscribe(getpid())?;
    let mut writer = Device::open(device, Access::Write)?;
    writer.send(message)?;
    let first = rtsig::take(signal, wait())?;
    let extra = rtsig::take(signal, Duration::ZERO)?;
    let back = reader.receive(buffer_size)?;
    Ok(first.is_some() && extra.is_none() && back == message)
}
