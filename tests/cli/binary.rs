//! Running the real binary with a clean environment.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_wa-gateway");

/// A command with only the variables given (plus PATH), so the developer's
/// own API_KEY or DATABASE_URL cannot leak into a test.
pub fn command(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

pub fn output(args: &[&str], envs: &[(&str, &str)]) -> Output {
    command(args, envs).output().expect("run wa-gateway")
}

/// A running `wa-gateway serve`, its address read from its JSON log.
pub struct Gateway {
    pub child: Child,
    pub addr: SocketAddr,
    pub lines: mpsc::Receiver<String>,
}

impl Gateway {
    pub fn start(envs: &[(&str, &str)]) -> Self {
        let mut all: Vec<(&str, &str)> =
            vec![("PORT", "0"), ("WAG_SERVER__HOST", "127.0.0.1"), ("WAG_LOG__FORMAT", "json")];
        all.extend_from_slice(envs);
        let mut child = command(&["serve"], &all)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn wa-gateway");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let addr = loop {
            let line = lines.recv_timeout(Duration::from_secs(60)).expect("gateway did not log `listening`");
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if json["message"] == "listening" {
                break json["addr"].as_str().unwrap().parse().unwrap();
            }
        };
        Self { child, addr, lines }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits for exit, up to `limit`; returns the exit code.
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(std::time::Instant::now() < deadline, "gateway still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every log line printed so far.
    pub fn drain_lines(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
