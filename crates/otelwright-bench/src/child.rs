//! Helper processes: the benches start this same binary in a hidden mode (`bench serve`, `bench receiver`) and
//! talk to it over stdin/stdout, one line per message. A child announces itself and answers with lines that start
//! with `@bench `; it stops when its stdin closes, so a bench that dies never leaves one behind.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// The prefix of every protocol line.
pub(crate) const PREFIX: &str = "@bench ";

/// Prints one protocol line and flushes it.
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{PREFIX}{line}");
    let _ = out.flush();
}

/// A running helper process.
pub(crate) struct Child {
    name: String,
    process: std::process::Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Child {
    /// Starts `otelwright bench <args>` and waits (up to 30 s) for its `ready`/`listening` line, returned
    /// without the prefix and keyword.
    pub(crate) fn spawn(name: &str, args: &[String], env: &[(&str, String)]) -> anyhow::Result<(Child, String)> {
        Child::spawn_wrapped(name, &[], args, env)
    }

    /// As [`Child::spawn`], run under `wrapper` (a program and its arguments, e.g. valgrind) when it is not empty.
    pub(crate) fn spawn_wrapped(
        name: &str,
        wrapper: &[String],
        args: &[String],
        env: &[(&str, String)],
    ) -> anyhow::Result<(Child, String)> {
        let exe = std::env::current_exe().context("locating the otelwright binary")?;
        let mut command = match wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut c = Command::new(program);
                c.args(wrapper_args).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        command.arg("bench").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut process = command.spawn().with_context(|| format!("starting the {name} process"))?;
        let stdout = process.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new().name(format!("bench-{name}-out")).spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(msg) = line.strip_prefix(PREFIX)
                    && tx.send(msg.to_owned()).is_err()
                {
                    break;
                }
            }
        })?;
        let stdin = process.stdin.take();
        let mut child = Child { name: name.to_owned(), process, stdin, lines };
        // Under valgrind a start takes tens of times longer.
        let wait = Duration::from_secs(if wrapper.is_empty() { 30 } else { 300 });
        let ready = child.expect("ready", wait)?;
        Ok((child, ready))
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Waits for the next line that starts with `keyword`, returning the rest of it.
    pub(crate) fn expect(&mut self, keyword: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(keyword) {
                        return Ok(rest.trim().to_owned());
                    }
                    if let Some(err) = line.strip_prefix("error") {
                        bail!("the {} process failed: {}", self.name, err.trim());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    bail!("the {} process did not answer {keyword:?} within {timeout:?}", self.name)
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.process.wait().map(|s| s.to_string()).unwrap_or_default();
                    bail!("the {} process exited ({status}) before answering {keyword:?}", self.name)
                }
            }
        }
    }

    /// Sends a command line and waits for the answer that starts with `reply`.
    pub(crate) fn ask(&mut self, command: &str, reply: &str) -> anyhow::Result<String> {
        let stdin = self.stdin.as_mut().ok_or_else(|| anyhow!("the {} process is stopping", self.name))?;
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .with_context(|| format!("writing to {}", self.name))?;
        self.expect(reply, Duration::from_secs(30))
    }

    /// Asks for `stats` and parses the JSON answer.
    pub(crate) fn stats<T: serde::de::DeserializeOwned>(&mut self) -> anyhow::Result<T> {
        let json = self.ask("stats", "stats")?;
        serde_json::from_str(&json).with_context(|| format!("stats of {}: {json}", self.name))
    }

    /// Closes stdin (the child shuts down) and waits up to `timeout`, then kills it.
    pub(crate) fn stop(mut self, timeout: Duration) {
        self.stop_in_place(timeout);
    }

    fn stop_in_place(&mut self, timeout: Duration) {
        self.stdin = None;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.process.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            self.stop_in_place(Duration::from_secs(2));
        }
    }
}

/// Reads command lines from stdin on a helper thread; `None` once stdin is closed.
pub(crate) fn stdin_commands() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let _ = std::thread::Builder::new().name("bench-stdin".into()).spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().to_owned()).is_err() {
                break;
            }
        }
    });
    rx
}
