//! Progress for the demo's slow operations: a spinner on a terminal (stderr), and one
//! "done in 1.2 s" line on stdout whatever the output is. `pgsec isolation` uses the
//! spinner alone (dropping a [`Progress`] clears it without the line).

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running operation; [`Progress::done`] prints how long it took.
#[derive(Debug)]
pub(crate) struct Progress {
    label: String,
    started: Instant,
    spinner: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Progress {
    /// Starts timing `label` (and a spinner when stderr is a terminal).
    pub(crate) fn start(label: impl Into<String>) -> Self {
        let label = label.into();
        let started = Instant::now();
        let spinner = std::io::stderr().is_terminal().then(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&stop);
            let text = label.clone();
            let handle = std::thread::spawn(move || spin(&text, started, &flag));
            (stop, handle)
        });
        Progress {
            label,
            started,
            spinner,
        }
    }

    /// Stops the spinner and prints `… label: done in N s`.
    pub(crate) fn done(mut self) -> Duration {
        self.stop_spinner();
        let elapsed = self.started.elapsed();
        println!("  … {}: done in {:.1} s", self.label, elapsed.as_secs_f64());
        elapsed
    }

    fn stop_spinner(&mut self) {
        if let Some((stop, handle)) = self.spinner.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_spinner();
    }
}

fn spin(label: &str, started: Instant, stop: &AtomicBool) {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let mut err = std::io::stderr();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let frame = FRAMES[i % FRAMES.len()];
        let _ = write!(
            err,
            "\r  {frame} {label} {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let _ = err.flush();
        i = i.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(100));
    }
    // Erase the spinner line.
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}
