//! Where everything is when a case hangs: the report the watchdog prints
//! before the program bails out (and `asyncn-test hang-report`, for a
//! caller's own hang). A hang must name its blocked tasks, or it is a
//! mystery.
//!
//! Reported, as TAP comments: the hung program and every process below it,
//! the hotplug helpers and module tools (mdev, udev, insmod, rmmod,
//! modprobe), and any other process with a thread in uninterruptible
//! sleep; for each of their threads the state, `wchan`, `syscall` and the
//! kernel stack (the last needs root). [`sysrq_blocked_tasks`] adds the
//! kernel's own list, kernel threads included.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Processes whose state always matters in a hang of the module's load,
/// unload or nodes.
const HELPERS: &[&str] = &[
    "mdev",
    "udevadm",
    "systemd-udevd",
    "(udev-worker)",
    "systemctl",
    "insmod",
    "rmmod",
    "modprobe",
];

/// One line of `/proc/<pid>/stat`: what the report needs of it.
#[derive(Debug, PartialEq)]
struct Stat {
    comm: String,
    state: char,
    ppid: u32,
}

/// A process: its stat, and whether any of its threads is in
/// uninterruptible sleep (`D`).
#[derive(Debug, PartialEq)]
struct Process {
    stat: Stat,
    blocked: bool,
}

/// Parses `/proc/<pid>/stat`: "pid (comm) state ppid ...", where comm may
/// hold spaces and parentheses (it ends at the last ')').
fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(Stat { comm, state, ppid })
}

/// A directory's entries whose names are numbers (`/proc`, `task/`).
fn numbered(dir: &Path) -> Vec<u32> {
    let mut numbers: Vec<u32> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    numbers.sort_unstable();
    numbers
}

fn read_stat(dir: &Path) -> Option<Stat> {
    parse_stat(&fs::read_to_string(dir.join("stat")).ok()?)
}

/// Every process, by pid.
fn processes() -> BTreeMap<u32, Process> {
    numbered(Path::new("/proc"))
        .into_iter()
        .filter_map(|pid| {
            let dir = Path::new("/proc").join(pid.to_string());
            let stat = read_stat(&dir)?;
            let tasks = dir.join("task");
            let blocked = numbered(&tasks)
                .into_iter()
                .any(|tid| read_stat(&tasks.join(tid.to_string())).is_some_and(|t| t.state == 'D'));
            Some((pid, Process { stat, blocked }))
        })
        .collect()
}

/// The pids to report: `hung` and its descendants, the helpers, and every
/// other process with a thread in uninterruptible sleep, less `exclude`.
fn selected(all: &BTreeMap<u32, Process>, hung: u32, exclude: &[u32]) -> Vec<u32> {
    let mut below = vec![hung];
    // Descendants: parents come before children only by chance, so repeat
    // until nothing is added.
    loop {
        let before = below.len();
        for (&pid, process) in all {
            if below.contains(&process.stat.ppid) && !below.contains(&pid) {
                below.push(pid);
            }
        }
        if below.len() == before {
            break;
        }
    }
    all.iter()
        .filter(|&(&pid, process)| {
            !exclude.contains(&pid)
                && (below.contains(&pid)
                    || HELPERS.contains(&process.stat.comm.as_str())
                    || process.blocked)
        })
        .map(|(&pid, _)| pid)
        .collect()
}

/// A `/proc` file of a task, its lines joined for one report line, or why
/// it could not be read.
fn proc_lines(dir: &Path, name: &str) -> Vec<String> {
    match fs::read_to_string(dir.join(name)) {
        Ok(text) if text.trim().is_empty() => vec!["(empty)".to_owned()],
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            vec!["(not permitted: needs root)".to_owned()]
        }
        Err(e) => vec![format!("({e})")],
    }
}

/// The report's lines for one task (`/proc/<pid>/task/<tid>`).
fn task_report(dir: &Path, pid: u32, tid: u32) -> Vec<String> {
    let Some(stat) = read_stat(dir) else {
        return vec![format!("hang: task {pid}/{tid} has gone")];
    };
    let thread = if tid == pid {
        String::new()
    } else {
        format!(" thread {tid}")
    };
    let mut lines = vec![format!(
        "hang: pid {pid}{thread} ({}) state {} ppid {} wchan {} syscall {}",
        stat.comm,
        stat.state,
        stat.ppid,
        proc_lines(dir, "wchan").join(" "),
        proc_lines(dir, "syscall").join(" "),
    )];
    lines.extend(
        proc_lines(dir, "stack")
            .into_iter()
            .map(|frame| format!("hang:     {frame}")),
    );
    lines
}

/// Prints the report (TAP comments) for `hung`, the program whose case
/// hung, less the processes `exclude` (the watchdog and the reporter).
/// Always succeeds: what cannot be read is said.
pub fn report(hung: nix::unistd::Pid, exclude: &[nix::unistd::Pid]) {
    let hung = hung.as_raw().unsigned_abs();
    let exclude: Vec<u32> = exclude.iter().map(|p| p.as_raw().unsigned_abs()).collect();
    let all = processes();
    println!(
        "# hang: the program ({hung}), its children, the hotplug helpers and every blocked task:"
    );
    for pid in selected(&all, hung, &exclude) {
        let task_dir = Path::new("/proc").join(pid.to_string()).join("task");
        for tid in numbered(&task_dir) {
            for line in task_report(&task_dir.join(tid.to_string()), pid, tid) {
                println!("# {line}");
            }
        }
    }
}

/// Has the kernel print every blocked task's stack on the console (SysRq
/// w), kernel threads (kworkers, kdevtmpfs) included. Its lines are
/// KERN_INFO, so the console's level is raised first, for good: for a
/// test harness (`--deadline`), as root.
pub fn sysrq_blocked_tasks() {
    let sysrq = fs::write("/proc/sys/kernel/printk", "8")
        .and_then(|()| fs::write("/proc/sysrq-trigger", "w"));
    match sysrq {
        Ok(()) => println!("# hang: the kernel's blocked tasks (SysRq w) are on the console"),
        Err(e) => println!("# hang: no SysRq w from here ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(comm: &str, state: char, ppid: u32) -> Stat {
        Stat {
            comm: comm.to_owned(),
            state,
            ppid,
        }
    }

    #[test]
    fn stat_lines_parse_with_odd_names() {
        assert_eq!(
            parse_stat("42 (asyncn-test) S 1 42 42 0 -1"),
            Some(stat("asyncn-test", 'S', 1))
        );
        assert_eq!(
            parse_stat("7 (a (b) c) D 3 7 7"),
            Some(stat("a (b) c", 'D', 3))
        );
        assert_eq!(parse_stat("7 (cut"), None);
        assert_eq!(parse_stat(""), None);
    }

    fn process(comm: &str, ppid: u32, blocked: bool) -> Process {
        Process {
            stat: stat(comm, 'S', ppid),
            blocked,
        }
    }

    #[test]
    fn the_report_covers_descendants_helpers_and_blocked_tasks() {
        let all = BTreeMap::from([
            (1, process("init", 0, false)),
            (10, process("sh", 1, false)),
            (20, process("asyncn-test", 10, false)),
            (30, process("asyncn-test", 20, false)),
            // A grandchild listed before its parent.
            (25, process("asyncn-test", 40, true)),
            (40, process("asyncn-test", 30, false)),
            (50, process("mdev", 2, false)),
            (55, process("(udev-worker)", 2, false)),
            // A process with a thread in D, elsewhere in the tree.
            (60, process("kworker/0:1", 2, true)),
            (70, process("getty", 1, false)),
            // The watchdog and the reporter.
            (80, process("asyncn-test", 20, false)),
            (81, process("asyncn-test", 80, false)),
        ]);
        assert_eq!(
            selected(&all, 20, &[80, 81]),
            vec![20, 25, 30, 40, 50, 55, 60]
        );
    }
}
