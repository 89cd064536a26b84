//! Where log lines go: appended to a shared buffer on the request path, written out by a
//! thread of their own every few milliseconds, so that no request waits for the terminal or a
//! pipe and no request pays a system call or a thread wake-up for its line.
//!
//! Written here rather than with `tracing-appender`'s non-blocking writer, which the emulator
//! used before: that writer's thread takes lines one by one off a channel, so under load it
//! woke (and yielded the CPU) once per request and wrote once per request. Counted with
//! `strace -c` on a server pinned to one core under `wrk`: one `write` and one `sched_yield`
//! per request on top of the request's own `recvfrom` and `writev`. Here a burst of lines is
//! one `write`, and the request path only takes an uncontended lock to copy its line.
//!
//! Bounded: past [`MAX_PENDING_BYTES`] waiting to be written, new lines are dropped rather than
//! holding up requests, and the next write says how many were.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often the writer thread writes what has gathered: a line shows within this long.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(5);
/// Most bytes waiting to be written; past it, lines are dropped (and counted).
pub const MAX_PENDING_BYTES: usize = 16 << 20;

/// What the request path and the writer thread share.
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when the writer should stop (after writing what is left).
    stop: Condvar,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    stopping: bool,
}

/// The `MakeWriter` the log subscriber writes through.
#[derive(Clone)]
pub struct BatchedLog {
    shared: Arc<Shared>,
}

/// Writes what is left and stops the writer thread when dropped (keep it for the life of the
/// program).
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer to `out` (e.g. standard output) on a thread of its own, and the guard that ends it.
pub fn batched(out: impl Write + Send + 'static) -> (BatchedLog, LogGuard) {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        stop: Condvar::new(),
        dropped: AtomicU64::new(0),
    });
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("ecs-log".to_owned())
            .spawn(move || write_out(&shared, out))
            .ok()
    };
    let log = BatchedLog {
        shared: shared.clone(),
    };
    (log, LogGuard { shared, thread })
}

/// The writer thread: every [`FLUSH_INTERVAL`], writes what has gathered; on stop, what is left.
fn write_out(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let stopping = {
            let pending = shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (mut pending, _) = shared
                .stop
                .wait_timeout_while(pending, FLUSH_INTERVAL, |p| !p.stopping)
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut pending.bytes, &mut spare);
            pending.stopping
        };
        let dropped = shared.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                spare,
                "ecs-emulator: {dropped} log lines were dropped: the log's reader fell behind"
            );
        }
        if !spare.is_empty() {
            // A log that cannot be written is not a reason to stop serving.
            let _ = out.write_all(&spare).and_then(|()| out.flush());
            spare.clear();
        }
        if stopping {
            return;
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stopping = true;
        self.shared.stop.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line's way into the shared buffer.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if pending.bytes.len() + line.len() > MAX_PENDING_BYTES {
            drop(pending);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            pending.bytes.extend_from_slice(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedLog {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` that hands what it gets to the test, counting the writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(bytes);
            sink.1 += 1;
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_burst_of_lines_is_written_whole_in_order_and_in_few_writes() {
        let sink = Sink::default();
        let (log, guard) = batched(sink.clone());
        for n in 0..1_000 {
            log.make_writer()
                .write_all(format!("line {n}\n").as_bytes())
                .unwrap();
        }
        drop(guard);
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1_000);
        assert!(lines
            .iter()
            .enumerate()
            .all(|(n, l)| *l == format!("line {n}")));
        assert!(writes < 100, "{writes} writes for 1,000 lines");
    }

    #[test]
    fn a_line_shows_without_waiting_for_more() {
        let sink = Sink::default();
        let (log, _guard) = batched(sink.clone());
        log.make_writer().write_all(b"ready\n").unwrap();
        let shown = (0..400).any(|_| {
            std::thread::sleep(Duration::from_millis(5));
            sink.0.lock().unwrap().0 == b"ready\n"
        });
        assert!(shown, "the line was not written within 2 s");
    }

    #[test]
    fn past_the_bound_lines_are_dropped_and_counted() {
        // No writer thread: the buffer stays full until the test writes it out itself.
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            stop: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let log = BatchedLog {
            shared: shared.clone(),
        };
        log.make_writer()
            .write_all(&vec![b'x'; MAX_PENDING_BYTES])
            .unwrap();
        log.make_writer().write_all(b"one too many\n").unwrap();
        shared.pending.lock().unwrap().stopping = true;
        let sink = Sink::default();
        write_out(&shared, sink.clone());
        let text = String::from_utf8(sink.0.lock().unwrap().0.clone()).unwrap();
        assert!(!text.contains("one too many"));
        assert!(text.ends_with("1 log lines were dropped: the log's reader fell behind\n"));
        assert_eq!(
            text.len(),
            MAX_PENDING_BYTES
                + "ecs-emulator: 1 log lines were dropped: the log's reader fell behind\n".len()
        );
    }
}
