//! `F_SETSIG` and fan-out: queued real-time signals carry `si_fd`,
//! `si_code` and `si_band`, one per subscriber per write, and a write to one
//! device reaches only that device's subscribers.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use nix::unistd::getpid;

use crate::device::{node_path, Access, Device};
use crate::harness::Tap;
use crate::harness::{wait, CaseResult, Context};
use crate::proc::{read_timeout, reap, spawn, Channel};
use crate::sys::rtsig::POLL_IN;
use crate::sys::rtsig::{block, rt_signal, set_signal, take, PollSignal};

pub fn setsig(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let signal = rt_signal(1);
    block(signal)?;
    let reader = Device::open(&ctx.device, Access::Read)?;
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    set_signal(reader.as_fd(), signal)?;
    reader.subscribe(getpid())?;

    let writes = 3;
    for i in 0..writes {
        writer.send(format!("queued {i}").as_bytes())?;
    }
    let mut received = Vec::new();
    while let Some(info) = take(signal, Duration::from_millis(300))? {
        received.push(info);
    }
    tap.check(
        received.len() == writes,
        format!(
            "{writes} writes queued {} signals (SIGRTMIN+1)",
            received.len()
        ),
    );
    let fd = reader.as_fd().as_raw_fd();
    tap.check(
        received.iter().all(|s| s.fd == fd),
        format!("each carries si_fd = the subscriber's fd {fd}"),
    );
    tap.check(
        received.iter().all(|s| s.code == POLL_IN),
        "each carries si_code = POLL_IN",
    );
    tap.check(
        received
            .iter()
            .all(|s| s.band & i64::from(libc::POLLIN) != 0),
        format!(
            "each carries si_band with POLLIN ({:?})",
            received.first().map(|s| s.band)
        ),
    );
    Ok(())
}

/// Subscriber processes and the devices they are spread over.
const SUBSCRIBERS: usize = 64;
const MAX_DEVICES: u32 = 4;

/// Writes sent to device `d`: different per device, so a subscriber that
/// saw another device's writes would count wrong.
fn writes_for(device: u32) -> usize {
    2 + device as usize
}

pub fn fanout(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let devices = ctx.params.devices.min(MAX_DEVICES);
    tap.note(format!(
        "{SUBSCRIBERS} subscriber processes over {devices} device(s)"
    ));
    let ready = Channel::new()?;
    let mut children = Vec::with_capacity(SUBSCRIBERS);
    for i in 0..SUBSCRIBERS {
        let device = (i % devices as usize) as u32;
        let path = node_path(&ctx.device, device);
        let ready_tx = ready.write_end()?;
        let expected = writes_for(device);
        children.push((
            device,
            spawn(move || subscriber(&path, expected, ready_tx))?,
        ));
    }
    let mut ready_rx = ready.read_end()?;
    drop(ready);
    let mut all_ready = true;
    for _ in 0..SUBSCRIBERS {
        if read_timeout(&mut ready_rx, &mut [0], wait()).is_err() {
            all_ready = false;
            break;
        }
    }
    tap.check(
        all_ready,
        format!("all {SUBSCRIBERS} subscribers subscribed"),
    );

    for device in 0..devices {
        let mut writer = Device::open(&node_path(&ctx.device, device), Access::Write)?;
        for n in 0..writes_for(device) {
            writer.send(format!("device {device} write {n}").as_bytes())?;
        }
    }

    let mut exact = 0;
    let mut wrong = Vec::new();
    for (device, pid) in children {
        match reap(pid, wait() * 2) {
            Some(0) => exact += 1,
            status => wrong.push((device, status)),
        }
    }
    let total_writes: usize = (0..devices).map(writes_for).sum();
    tap.check(
        wrong.is_empty(),
        format!(
            "each subscriber got exactly one queued signal per write to its own device \
             ({exact}/{SUBSCRIBERS}; {total_writes} writes over {devices} devices; wrong: {wrong:?})"
        ),
    );
    Ok(())
}

/// Exit codes of a subscriber process.
const OK: i32 = 0;
const TOO_FEW: i32 = 1;
const TOO_MANY: i32 = 2;
const BAD_FIELDS: i32 = 3;
const SETUP: i32 = 4;

fn subscriber(path: &std::path::Path, expected: usize, mut ready: File) -> i32 {
    let signal = rt_signal(1);
    let mut setup = || -> std::io::Result<Device> {
        block(signal)?;
        let device = Device::open(path, Access::Read)?;
        set_signal(device.as_fd(), signal)?;
        device.subscribe(getpid())?;
        ready.write_all(b"S")?;
        Ok(device)
    };
    let Ok(device) = setup() else { return SETUP };
    let fd = device.as_fd().as_raw_fd();
    let valid =
        |s: &PollSignal| s.fd == fd && s.code == POLL_IN && s.band & i64::from(libc::POLLIN) != 0;
    let mut count = 0;
    while count < expected {
        match take(signal, wait()) {
            Ok(Some(s)) if valid(&s) => count += 1,
            Ok(Some(_)) => return BAD_FIELDS,
            _ => return TOO_FEW,
        }
    }
    // Nothing more may arrive: other devices' writes must not reach us.
    match take(signal, Duration::from_millis(300)) {
        Ok(None) => OK,
        _ => TOO_MANY,
    }
}
