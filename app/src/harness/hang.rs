//! Where everything is when a case hangs: the report the watchdog's
//! helper process (`asyncn-test hang-report`) prints before the program
//! bails out. A hang must name its blocked tasks, or it is a mystery.
//!
//! Reported, as TAP comments: the hung program (the helper's parent) and
//! every process below it, the hotplug helpers and module tools (mdev,
//! udev, insmod, rmmod, modprobe), and any other task in uninterruptible
//! sleep; for each of their threads the state, `wchan`, `syscall` and the
//! kernel stack. Then, where the caller may, the kernel's own list of
//! blocked tasks (SysRq `w`) on the console.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Processes whose state always matters in a hang of the module's load,
/// unload or nodes.
const HELPERS: &[&str] = &[
    "mdev",
    "udevadm",
    "systemd-udevd",
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

/// Every process's stat, by pid.
fn processes() -> BTreeMap<u32, Stat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse().ok()?;
            let stat = parse_stat(&fs::read_to_string(entry.path().join("stat")).ok()?)?;
            Some((pid, stat))
        })
        .collect()
}

/// The pids to report: `hung` and its descendants, the helpers, and every
/// other task in uninterruptible sleep (`D`), less `me`.
fn selected(all: &BTreeMap<u32, Stat>, hung: u32, me: u32) -> Vec<u32> {
    let mut below = vec![hung];
    // Descendants: parents come before children only by chance, so repeat
    // until nothing is added.
    loop {
        let before = below.len();
        for (&pid, stat) in all {
            if below.contains(&stat.ppid) && !below.contains(&pid) {
                below.push(pid);
            }
        }
        if below.len() == before {
            break;
        }
    }
    all.iter()
        .filter(|&(&pid, stat)| {
            pid != me
                && (below.contains(&pid)
                    || HELPERS.contains(&stat.comm.as_str())
                    || stat.state == 'D')
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
        Err(e) => vec![format!("({e})")],
    }
}

/// The report's lines for one task (`/proc/<pid>/task/<tid>`).
fn task_report(dir: &Path, pid: u32, tid: u32) -> Vec<String> {
    let stat = fs::read_to_string(dir.join("stat"))
        .ok()
        .and_then(|text| parse_stat(&text));
    let Some(stat) = stat else {
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

/// Prints the report (TAP comments) for the program whose watchdog fired,
/// the parent of this process, and asks the kernel for its list of blocked
/// tasks. Always succeeds: what cannot be read is said.
pub fn report() {
    let me = std::process::id();
    let hung = nix::unistd::getppid().as_raw().unsigned_abs();
    let all = processes();
    let pids = selected(&all, hung, me);
    println!(
        "# hang: where the program ({hung}), its children, the hotplug helpers and every blocked task are:"
    );
    for pid in pids {
        let task_dir = Path::new("/proc").join(pid.to_string()).join("task");
        let mut tids: Vec<u32> = fs::read_dir(&task_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        tids.sort_unstable();
        for tid in tids {
            for line in task_report(&task_dir.join(tid.to_string()), pid, tid) {
                println!("# {line}");
            }
        }
    }
    // The kernel's view too, kernel threads included (kworkers, kdevtmpfs):
    // SysRq w prints every blocked task's stack at the console. Its lines
    // are KERN_INFO, so the console's level is raised first.
    let sysrq = fs::write("/proc/sys/kernel/printk", "8")
        .and_then(|()| fs::write("/proc/sysrq-trigger", "w"));
    match sysrq {
        Ok(()) => println!("# hang: the kernel's blocked tasks (SysRq w) follow on the console"),
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

    #[test]
    fn the_report_covers_descendants_helpers_and_blocked_tasks() {
        let all = BTreeMap::from([
            (1, stat("init", 'S', 0)),
            (10, stat("sh", 'S', 1)),
            (20, stat("asyncn-test", 'S', 10)),
            (30, stat("asyncn-test", 'S', 20)),
            // A grandchild listed before its parent.
            (25, stat("asyncn-test", 'D', 40)),
            (40, stat("asyncn-test", 'S', 30)),
            (50, stat("mdev", 'S', 2)),
            (60, stat("kworker/0:1", 'D', 2)),
            (70, stat("getty", 'S', 1)),
            // The reporter itself.
            (80, stat("asyncn-test", 'R', 20)),
        ]);
        assert_eq!(selected(&all, 20, 80), vec![20, 25, 30, 40, 50, 60]);
    }
}
