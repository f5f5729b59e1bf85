//! Cleans up after a server even when the test process dies.
//!
//! A small `sh` child waits on a pipe from this process; when the pipe closes (the
//! server is dropped, or the process exits, panics or is killed), it runs the cleanup.
//! Statics are never dropped, so this is what removes the shared server.

use std::io;
use std::process::{Child, ChildStdin, Command, Stdio};

use std::os::unix::process::CommandExt as _;

/// A running reaper; dropping it runs the cleanup and waits for it to finish.
#[derive(Debug)]
pub(crate) struct Reaper {
    stdin: Option<ChildStdin>,
    child: Child,
}

impl Reaper {
    /// Starts a reaper that runs `cleanup` (a shell snippet) when the pipe closes.
    pub(crate) fn spawn(cleanup: &str) -> io::Result<Reaper> {
        // Signals from the terminal must not stop the cleanup: ignore them (the ignore is
        // inherited by `cat`), and leave the process group of the tests.
        let script = format!("trap '' INT TERM HUP; cat >/dev/null; {cleanup}");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(Reaper {
            stdin: child.stdin.take(),
            child,
        })
    }

    /// Closes the pipe without waiting (the cleanup then runs in the background).
    pub(crate) fn trigger(&mut self) {
        self.stdin.take();
    }

    /// Closes the pipe and waits until the cleanup is done.
    pub(crate) fn finish(&mut self) {
        self.trigger();
        let _ = self.child.wait();
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Quotes a string for `sh` (single quotes).
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
