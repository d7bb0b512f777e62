//! The watchdog, end to end: `asyncn-test hang-self-test` hangs in a read
//! (a child of it too); the watchdog must report where both are, bail out
//! naming the case, and end the program with status 1, within the case's
//! limit or `--deadline`, whichever comes first; and stay silent for a
//! case that ends in time.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest any run here may take: a watchdog that never fires fails the
/// test instead of hanging it.
const LIMIT: Duration = Duration::from_secs(60);

struct Run {
    pid: u32,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs asyncn-test with `args`, killed after [`LIMIT`].
fn run(args: &[&str]) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_asyncn-test"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("asyncn-test starts");
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "asyncn-test {args:?} still ran after {LIMIT:?}:\n{}",
                stdout.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        pid,
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        took: start.elapsed(),
    }
}

fn uptime() -> u64 {
    let text = std::fs::read_to_string("/proc/uptime").expect("/proc/uptime");
    let seconds: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
    seconds as u64
}

#[test]
fn a_hung_case_is_reported_then_bailed_out_with_status_1() {
    let run = run(&["hang-self-test", "--seconds", "1"]);
    let out = &run.stdout;
    assert_eq!(run.code, Some(1), "{out}");
    assert!(run.took < Duration::from_secs(20), "took {:?}", run.took);
    assert!(
        out.contains("# watchdog: case hang-self-test still runs after 1 s (its time)"),
        "{out}"
    );
    // The program where it hangs (in read(2)), not where a signal took it;
    // /proc/<pid>/syscall may be refused where ptrace is restricted.
    let program = format!("# hang: pid {} (asyncn-test) state S ", run.pid);
    let read = format!(" syscall {} ", libc::SYS_read);
    assert!(
        out.lines().any(|l| l.starts_with(&program)
            && (l.contains(&read) || l.contains("syscall (not permitted"))),
        "no line for the program in read(2):\n{out}"
    );
    // Its child, blocked likewise.
    let child = format!("(asyncn-test) state S ppid {} ", run.pid);
    assert!(
        out.lines()
            .any(|l| l.starts_with("# hang: pid ") && l.contains(&child)),
        "{out}"
    );
    assert_eq!(
        out.lines().last(),
        Some("Bail out! case hang-self-test did not finish in 1 s (its time; watchdog)"),
        "{out}"
    );
}

#[test]
fn the_deadline_comes_before_a_longer_case_limit() {
    let deadline = (uptime() + 2).to_string();
    let run = run(&[
        "hang-self-test",
        "--seconds",
        "600",
        "--deadline",
        &deadline,
    ]);
    let out = &run.stdout;
    assert_eq!(run.code, Some(1), "{out}");
    assert!(run.took < Duration::from_secs(30), "took {:?}", run.took);
    assert!(
        out.lines().any(
            |l| l.starts_with("Bail out! case hang-self-test did not finish in ")
                && l.ends_with(" s (its time before --deadline; watchdog)")
        ),
        "{out}"
    );
}

#[test]
fn a_case_that_ends_in_time_passes_and_nothing_fires_after_the_summary() {
    let run = run(&["hang-self-test", "--seconds", "3", "--return-after", "1s"]);
    let out = &run.stdout;
    assert_eq!(run.code, Some(0), "{out}{}", run.stderr);
    assert!(
        !out.contains("Bail out!") && !out.contains("# hang:"),
        "{out}"
    );
    assert_eq!(out.lines().last(), Some("# 1 passed, 0 failed"), "{out}");
}

#[test]
fn global_options_go_after_the_subcommand() {
    // The loop's scripts put --deadline after the subcommand, as here.
    let after = run(&["hang-self-test", "--deadline", "1", "--seconds", "1"]);
    assert_eq!(after.code, Some(1), "{}", after.stdout);
    assert!(
        after.stdout.contains("Bail out! case hang-self-test"),
        "{}",
        after.stdout
    );
    // Before it, the subcommand is taken for a case name: refused.
    let before = run(&["--deadline", "1", "hang-self-test"]);
    assert_eq!(before.code, Some(2), "{}", before.stdout);
    assert!(
        before.stderr.contains("unknown case \"hang-self-test\""),
        "{}",
        before.stderr
    );
}
