//! User copies happen with no device lock held: a reader or writer whose
//! buffer is stalled on a page fault (here a userfaultfd page, as FUSE or
//! swap would stall it) blocks no other opener, and `close()` does not wait
//! for it.

use std::os::fd::AsFd;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::device::{Access, Device};
use crate::harness::Tap;
use crate::harness::{wait, CaseResult, Context};
use crate::sys::uffd::StallPage;

/// What other openers do while one call is stalled; each step's time.
fn others_meanwhile(
    ctx: &Context,
    expect_readable: &[u8],
) -> Result<Vec<(String, Duration)>, String> {
    let mut steps = Vec::new();
    let mut timed = |what: &str, start: Instant| steps.push((what.to_string(), start.elapsed()));
    let fail = |what: &str, e: std::io::Error| format!("{what}: {e}");

    let start = Instant::now();
    let reader = Device::open(&ctx.device, Access::Read).map_err(|e| fail("open", e))?;
    timed("open", start);

    let start = Instant::now();
    let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
    let ready = poll(&mut fds, PollTimeout::ZERO).map_err(|e| format!("poll: {e}"))?;
    timed("poll", start);
    if ready != 1 {
        return Err("poll: a new reader does not see the current message".into());
    }

    let start = Instant::now();
    let current = reader
        .receive(ctx.params.buffer_size)
        .map_err(|e| fail("read", e))?;
    timed("read", start);
    if current != expect_readable {
        return Err(format!(
            "read: {:?}, not the message published before the stall",
            String::from_utf8_lossy(&current)
        ));
    }

    let start = Instant::now();
    let mut writer = Device::open(&ctx.device, Access::Write).map_err(|e| fail("open", e))?;
    writer
        .send(b"written meanwhile")
        .map_err(|e| fail("write", e))?;
    timed("write", start);
    let back = reader
        .receive(ctx.params.buffer_size)
        .map_err(|e| fail("read", e))?;
    if back != b"written meanwhile"[..b"written meanwhile".len().min(ctx.params.buffer_size)] {
        return Err("read after the write: not the new message".into());
    }

    let start = Instant::now();
    drop(writer);
    drop(reader);
    timed("close", start);
    Ok(steps)
}

/// Runs `others_meanwhile` in a thread and waits up to `wait()` for it.
fn check_others(ctx: &Context, tap: &mut Tap, who: &str, expect_readable: &[u8]) -> bool {
    let (done, finished) = mpsc::channel();
    let ctx_copy = ctx.clone();
    let expect = expect_readable.to_vec();
    std::thread::spawn(move || {
        let _ = done.send(others_meanwhile(&ctx_copy, &expect));
    });
    let outcome = finished.recv_timeout(wait());
    let what = format!("while a {who} is stalled, other files open, poll, read, write and close");
    match outcome {
        Ok(Ok(steps)) => {
            let slowest = steps.iter().map(|(_, t)| *t).max().unwrap_or_default();
            let detail: Vec<String> = steps
                .iter()
                .map(|(what, t)| format!("{what} {} µs", t.as_micros()))
                .collect();
            tap.check(
                slowest < Duration::from_secs(1),
                format!("{what} ({})", detail.join(", ")),
            )
        }
        Ok(Err(e)) => tap.check(false, format!("{what}: {e}")),
        Err(_) => tap.check(
            false,
            format!("{what}: still blocked after {} s", wait().as_secs()),
        ),
    }
}

/// What a stalled call returned once its page came, and the page.
type Stalled = (usize, Arc<StallPage>);

/// Runs `call` (a read or write whose buffer is `page`) in a thread, checks
/// that it stalls on the page and that other openers carry on meanwhile,
/// then provides the page: what `call` returned, once it stalled.
fn stall_one(
    ctx: &Context,
    tap: &mut Tap,
    page: Arc<StallPage>,
    who: &str,
    expect_readable: &[u8],
    call: impl FnOnce(&StallPage) -> std::io::Result<usize> + Send + 'static,
) -> Result<Option<Stalled>, Box<dyn std::error::Error>> {
    let in_call = Arc::clone(&page);
    let running = std::thread::spawn(move || call(&in_call));
    let faulted = page.wait_for_fault(wait())?;
    let direction = if who == "reader" {
        "copy-out"
    } else {
        "copy-in"
    };
    tap.check(
        faulted,
        format!("a {who}'s {direction} is stalled on a userfaultfd page"),
    );
    if faulted {
        check_others(ctx, tap, who, expect_readable);
    }
    page.fill()?;
    let n = running
        .join()
        .map_err(|_| format!("{who} thread panicked"))??;
    Ok(faulted.then_some((n, page)))
}

pub fn stall(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let page = match StallPage::new() {
        Ok(page) => Arc::new(page),
        Err(e) => {
            tap.skip(
                "a user copy stalled on a page fault blocks no one",
                format!("no userfaultfd here ({e})"),
            );
            return Ok(());
        }
    };
    let size = ctx.params.buffer_size;
    let message = &b"for the stalled reader"[..22.min(size)];
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    writer.send(message)?;

    // A reader whose buffer is the stall page.
    let stalled = Device::open(&ctx.device, Access::Read)?;
    let n = stall_one(ctx, tap, page, "reader", message, move |page| {
        page.read_into(stalled.as_fd(), 64)
    })?;
    if let Some((n, page)) = n {
        tap.check(
            n == message.len() && page.bytes(n) == message,
            format!(
                "once the page is there, the stalled read completes with the message it took ({n} bytes: {:?})",
                String::from_utf8_lossy(&page.bytes(n))
            ),
        );
    }

    // A writer whose input is a stall page.
    writer.send(message)?;
    let stalled = Device::open(&ctx.device, Access::Write)?;
    let n = stall_one(
        ctx,
        tap,
        Arc::new(StallPage::new()?),
        "writer",
        message,
        move |page| page.write_from(stalled.as_fd(), 16),
    )?;
    if let Some((n, _)) = n {
        let back = Device::open(&ctx.device, Access::Read)?.receive(size)?;
        let expected = vec![0u8; 16.min(size)];
        tap.check(
            n == expected.len() && back == expected,
            format!(
                "once the page is there, the stalled write publishes its bytes ({n} accepted, {} read)",
                back.len()
            ),
        );
    }
    Ok(())
}
