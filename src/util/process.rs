//! Child processes that must not outlive envlock. A build backend (and the compilers it starts)
//! runs in a process group of its own, registered here while it runs: a timeout ends the whole
//! group, and so does [`kill_all`], which the CLI calls when it is interrupted. Without this, a
//! SIGTERM to envlock (a CI job's timeout) would leave a compiler running on.
//!
//! Own code rather than a crate: it is a `setpgid` at spawn (std's `process_group`) and a
//! `kill(-pgid)`; nothing else is needed.

use std::{
    process::{Child, Command},
    sync::Mutex,
};

/// The process groups running now, by their leader's pid.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A child started by [`spawn`], the leader of its own process group on unix.
pub struct Group {
    child: Child,
}

/// Starts `command` as the leader of a new process group (on unix; elsewhere as a plain child)
/// and registers the group for [`kill_all`] until the returned [`Group`] is dropped.
pub fn spawn(command: &mut Command) -> std::io::Result<Group> {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    // Registered under the lock it was spawned under, so that an interrupt between the spawn
    // and the registration cannot miss it.
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    let child = command.spawn()?;
    live.push(child.id());
    Ok(Group { child })
}

impl Group {
    /// The child, to wait for.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Kills the whole group (the child and what it started) and reaps the child.
    pub fn kill(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let id = self.child.id();
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != id);
    }
}

/// Kills every registered process group: for the CLI's interrupt handler, before it exits.
pub fn kill_all() {
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    for &id in live.iter() {
        kill_group(id);
    }
}

fn kill_group(leader: u32) {
    #[cfg(unix)]
    if let Ok(pgid) = libc::pid_t::try_from(leader) {
        // SAFETY: kill(2) takes plain integers; a group that is gone yields ESRCH, ignored.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = leader;
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A killed group takes its grandchildren along: the shell's background `sleep` too.
    #[test]
    fn killing_a_group_ends_what_the_child_started() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let mut group = spawn(Command::new("sh").args([
            "-c",
            &format!("sleep 60 & echo $! > {}; wait", pidfile.display()),
        ]))
        .unwrap();
        let started = Instant::now();
        let grandchild = loop {
            if let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
            {
                break pid;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no pid file");
            std::thread::sleep(Duration::from_millis(20));
        };
        let proc = std::path::PathBuf::from(format!("/proc/{grandchild}"));
        if !std::path::Path::new("/proc/self").exists() {
            return; // nothing to look at the grandchild with
        }
        assert!(proc.exists());
        assert!(LIVE.lock().unwrap().contains(&group.child().id()));
        group.kill();
        // The grandchild is reaped by init once killed; wait for it to go.
        let started = Instant::now();
        while proc.exists()
            && !std::fs::read_to_string(proc.join("stat")).is_ok_and(|s| s.contains(") Z "))
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the grandchild still runs"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let id = group.child().id();
        drop(group);
        assert!(!LIVE.lock().unwrap().contains(&id));
    }
}
