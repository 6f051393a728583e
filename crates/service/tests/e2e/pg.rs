//! A real PostgreSQL server for a test: initdb in a temp directory, `postgres` on a free loopback port, trust
//! authentication for the test's user. Installed from Debian's packages by `scripts/install-toolchain`. As root
//! (CI), initdb and postgres refuse to run, so both run as the `postgres` user via `runuser`, on a directory
//! owned by it.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use crate::world::{Proc, free_port};

pub(crate) struct PgServer {
    pub(crate) url: String,
    _proc: Proc,
    _dir: tempfile::TempDir,
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WARRANT_PG_BIN") {
        return dir.into();
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb): run scripts/install-toolchain"
        )
    })
}

fn is_root() -> bool {
    // SAFETY: plain syscall.
    unsafe { libc::geteuid() == 0 }
}

/// `program args…`, as the `postgres` user when we are root.
fn as_pg_user(program: &std::path::Path, args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

impl PgServer {
    pub(crate) fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let socket = dir.path().join("socket");
        std::fs::create_dir_all(&socket).unwrap();
        if is_root() {
            let id = |flag: &str| {
                let out = Command::new("id").args([flag, "postgres"]).output().expect("id runs");
                assert!(out.status.success(), "no postgres user: install Debian's postgresql package");
                String::from_utf8(out.stdout).unwrap().trim().parse::<u32>().unwrap()
            };
            let (uid, gid) = (id("-u"), id("-g"));
            for p in [dir.path(), socket.as_path()] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
            }
        }
        let out = as_pg_user(
            &bin.join("initdb"),
            &["-D", data.to_str().unwrap(), "-U", "warrant", "--auth=trust", "--encoding=UTF8", "--no-sync"],
        )
        .output()
        .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let log = std::env::temp_dir().join(format!("warrant-pg-{port}.log"));
        let command = as_pg_user(
            &bin.join("postgres"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-p",
                &port.to_string(),
                "-k",
                socket.to_str().unwrap(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
        );
        let mut proc = Proc::spawn(command, &log);
        let url = format!("postgres://warrant@127.0.0.1:{port}/postgres");
        let start = Instant::now();
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let ready = Command::new(bin.join("pg_isready"))
                    .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                    .output();
                if ready.is_ok_and(|o| o.status.success()) {
                    break;
                }
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                panic!("postgres exited ({status}):\n{}", proc.tail(30));
            }
            assert!(start.elapsed() < Duration::from_secs(30), "postgres did not start:\n{}", proc.tail(30));
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { url, _proc: proc, _dir: dir }
    }
}
