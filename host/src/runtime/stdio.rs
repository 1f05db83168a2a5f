//! A plugin's stdout and stderr: never the host's own, but captured, forwarded line by line to the
//! log tagged with the plugin's name, and kept (the last [`KEEP`] bytes) for the run's outcome and
//! for finding a panic message after a crash. Writes always succeed, so a chatty plugin cannot
//! make its own `println!` fail.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes of output kept for the outcome (the tail: a panic message comes last).
const KEEP: usize = 64 * 1024;

/// The longest line forwarded to the log in one piece.
const LINE: usize = 8 * 1024;

/// What a plugin's stdout and stderr hold so far.
struct Shared {
    plugin: String,
    /// The output as written, both streams interleaved; at most `2 * KEEP` bytes.
    kept: Vec<u8>,
    /// Whether output was dropped from the front of `kept`.
    dropped: bool,
    /// The unfinished line of each stream.
    pending: [Vec<u8>; 2],
}

/// Captures one run's stdout and stderr.
pub(crate) struct Capture {
    shared: Arc<Mutex<Shared>>,
}

/// One of the two streams, as WASI sees it.
#[derive(Clone)]
pub(crate) struct Pipe {
    shared: Arc<Mutex<Shared>>,
    stream: usize,
}

const STREAM_NAMES: [&str; 2] = ["stdout", "stderr"];

impl Capture {
    /// A capture for the plugin called `plugin`.
    pub(crate) fn new(plugin: &str) -> Capture {
        Capture {
            shared: Arc::new(Mutex::new(Shared {
                plugin: plugin.to_string(),
                kept: Vec::new(),
                dropped: false,
                pending: [Vec::new(), Vec::new()],
            })),
        }
    }

    /// The plugin's stdout.
    pub(crate) fn stdout(&self) -> Pipe {
        self.pipe(0)
    }

    /// The plugin's stderr.
    pub(crate) fn stderr(&self) -> Pipe {
        self.pipe(1)
    }

    fn pipe(&self, stream: usize) -> Pipe {
        Pipe {
            shared: self.shared.clone(),
            stream,
        }
    }

    /// Logs unfinished lines and returns what was kept.
    pub(crate) fn finish(&self) -> String {
        let mut shared = lock(&self.shared);
        for stream in 0..STREAM_NAMES.len() {
            let line = std::mem::take(&mut shared.pending[stream]);
            if !line.is_empty() {
                forward(&shared.plugin, stream, &line);
            }
        }
        let text = String::from_utf8_lossy(tail(&shared.kept)).into_owned();
        if shared.dropped || shared.kept.len() > KEEP {
            format!("[earlier output dropped]\n{text}")
        } else {
            text
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The last [`KEEP`] bytes.
fn tail(kept: &[u8]) -> &[u8] {
    &kept[kept.len().saturating_sub(KEEP)..]
}

fn forward(plugin: &str, stream: usize, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    tracing::info!(target: "exorun::plugin", plugin, stream = STREAM_NAMES[stream], "{}", text.trim_end());
}

impl Pipe {
    fn take(&self, bytes: &[u8]) {
        let mut shared = lock(&self.shared);
        let shared = &mut *shared;
        shared.kept.extend_from_slice(bytes);
        if shared.kept.len() > 2 * KEEP {
            let excess = shared.kept.len() - KEEP;
            shared.kept.drain(..excess);
            shared.dropped = true;
        }
        let pending = &mut shared.pending[self.stream];
        for &byte in bytes {
            if byte == b'\n' {
                forward(&shared.plugin, self.stream, pending);
                pending.clear();
            } else {
                pending.push(byte);
                if pending.len() >= LINE {
                    forward(&shared.plugin, self.stream, pending);
                    pending.clear();
                }
            }
        }
    }
}

impl IsTerminal for Pipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Pipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    /// A synchronous stream, so what a plugin wrote before it crashed is all here when the
    /// crash is examined (the default adapter writes from a background task).
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Pipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.take(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(LINE)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Pipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Pipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.take(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_both_streams_in_order() {
        let capture = Capture::new("p");
        let (mut out, mut err) = (capture.stdout(), capture.stderr());
        out.write(Bytes::from_static(b"one\ntw")).unwrap();
        err.write(Bytes::from_static(b"oops\n")).unwrap();
        out.write(Bytes::from_static(b"o\n")).unwrap();
        assert_eq!(capture.finish(), "one\ntwoops\no\n");
        assert!(out.check_write().unwrap() > 0);
    }

    #[test]
    fn keeps_the_tail_of_a_flood() {
        let capture = Capture::new("p");
        let mut out = capture.stdout();
        for _ in 0..1000 {
            out.write(Bytes::from(vec![b'x'; 1000])).unwrap();
        }
        out.write(Bytes::from_static(b"\nthe end\n")).unwrap();
        let kept = capture.finish();
        assert!(kept.starts_with("[earlier output dropped]\n"));
        assert!(kept.ends_with("\nthe end\n"));
        assert!(kept.len() <= KEEP + 30, "{}", kept.len());
    }
}
