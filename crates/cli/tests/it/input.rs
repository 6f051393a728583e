//! Input files the user names: a FIFO or a device is refused (never read, so never a hang or a memory blow-up),
//! a file over the size limit is refused, and a missing file is named as missing.

use crate::{stderr, warrant};

fn refused(args: &[&str], expected: &str) {
    let out = warrant(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(stderr(&out).contains(expected), "{args:?}: expected {expected:?} in {}", stderr(&out));
}

#[test]
fn fifos_devices_and_huge_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("grant.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let fifo = fifo.to_str().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; (1 << 20) + 1]).unwrap();
    let big = big.to_str().unwrap();
    for input in [fifo, "/dev/zero"] {
        refused(&["explain", input], "not a regular file");
        refused(&["auth", "recover", input], "not a regular file");
        refused(&["undelegate", "--auth", input, "--rpc-url", "http://127.0.0.1:1"], "not a regular file");
    }
    refused(&["explain", big], "above the 1048576-byte limit");
    refused(&["auth", "recover", big], "above the 1048576-byte limit");
}

#[test]
fn a_missing_file_is_named_as_missing() {
    refused(
        &["auth", "recover", "/nonexistent/auth.json"],
        "authorization file /nonexistent/auth.json: no such file",
    );
    refused(&["explain", "./missing-grant.json"], "grant file ./missing-grant.json: no such file");
}
