//! The README's "CLI in one session", run as a newcomer would: `warrant devnet` in one shell (the README's first
//! block, as written), then the README's session block, line by line as written, in bash in another, in the same
//! directory. Each command must exit as the README says (0, or the `# exit N` its line names). Ctrl-C (SIGINT)
//! then stops the devnet, and no process it started survives.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The `sh` code blocks of the README's section `heading`, in order.
fn readme_blocks(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
        .expect("README.md");
    let start = readme.find(heading).unwrap_or_else(|| panic!("README has no {heading:?}"));
    let section = &readme[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("\n```").expect("a closed code block");
        blocks.push(body[..close].to_owned());
        rest = &body[close + 4..];
    }
    blocks
}

/// The session block as a bash script that runs each command as written and stops at the first whose exit
/// status is not the one the README gives it (`# exit N` on its line, else 0), naming the line.
fn checked_script(block: &str) -> String {
    let mut script = String::from("set -u\n");
    let mut command = String::new();
    for line in block.lines() {
        if command.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        command.push_str(line);
        command.push('\n');
        if line.trim_end().ends_with('\\') {
            continue;
        }
        let expected = line
            .split("# exit ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .map_or(0, |n| n.parse::<i32>().expect("an exit status"));
        let first = command.lines().next().unwrap_or_default().replace('\'', "'\\''");
        script.push_str(&format!(
            "echo '+ {first}' >&2\n{command}rc=$?\nif [ $rc -ne {expected} ]; then echo 'README line failed \
             (exit '$rc', expected {expected}): {first}' >&2; exit 1; fi\n"
        ));
        command.clear();
    }
    assert!(command.is_empty(), "the block ends inside a continued line");
    script
}

/// A `PATH` with the `warrant` under test first.
fn path_with_warrant() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_warrant")).parent().expect("a directory").to_owned();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// A shell command with the user's environment minus anything that would point `warrant` elsewhere.
fn shell(dir: &Path, script: &str) -> Command {
    let mut command = Command::new("bash");
    command.arg("-c").arg(script).current_dir(dir);
    for var in [
        "WARRANT_PASSWORD",
        "WARRANT_PRIVATE_KEY",
        "WARRANT_KEYSTORE",
        "WARRANT_BUNDLER_URL",
        "ETH_RPC_URL",
        "ETH_RPC_TIMEOUT",
    ] {
        command.env_remove(var);
    }
    command.env("HOME", dir).env("PATH", path_with_warrant());
    command
}

/// The pids whose parent is `pid` (the devnet's anvil and Alto).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
        let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
        if ppid == Some(&pid.to_string()) {
            out.push(child);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

fn group_alive(pgid: u32) -> bool {
    // SAFETY: as above, for the process group.
    unsafe { libc::kill(-(pgid as i32), 0) == 0 }
}

/// Reads the devnet's stdout until its ready line (or its end), failing after `timeout`.
fn wait_ready(devnet: &mut Child, timeout: Duration, ready: impl Fn(&str) -> bool) -> Vec<String> {
    let stdout = devnet.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = ready(&line);
                lines.push(line);
                if done {
                    return lines;
                }
            }
            Err(_) => {
                let _ = devnet.kill();
                panic!(
                    "warrant devnet was not ready in {} s; stdout:\n{}",
                    timeout.as_secs(),
                    lines.join("\n")
                );
            }
        }
    }
}

/// Signals the devnet and checks it stops with exit 0 and that anvil and Alto and their groups are gone.
fn stop_and_check(mut devnet: Child, signal: i32, services: &[u32]) {
    // SAFETY: a signal to the child this test started.
    unsafe {
        libc::kill(devnet.id() as i32, signal);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = devnet.try_wait().expect("waits") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = devnet.kill();
            panic!("warrant devnet did not stop within 20 s of signal {signal}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "warrant devnet stops cleanly on signal {signal}");
    for &pid in services {
        assert!(!alive(pid), "process {pid} survived warrant devnet");
        assert!(!group_alive(pid), "process group {pid} survived warrant devnet");
    }
}

#[test]
fn readme_session_against_warrant_devnet() {
    if let Err(e) = warrant_chain::devnet::check_tools() {
        panic!("the README session needs anvil, node and Alto: {e}");
    }
    let blocks = readme_blocks("## The CLI in one session");
    assert_eq!(blocks.len(), 2, "the section has the devnet block and the session block");
    let dir = tempfile::tempdir().unwrap();
    let start = blocks[0].trim();
    assert!(start.starts_with("warrant devnet") && !start.contains('\n'), "one devnet command: {start}");
    let mut devnet = shell(dir.path(), &format!("exec {start}")).stdout(Stdio::piped()).spawn().unwrap();
    let printed = wait_ready(&mut devnet, Duration::from_secs(120), |l| l.starts_with("ready:"));
    let services = children(devnet.id());
    assert_eq!(services.len(), 2, "anvil and Alto are the devnet's children: {services:?}");
    assert!(printed.iter().any(|l| l.starts_with("export ETH_RPC_URL=http://127.0.0.1:")), "{printed:?}");
    assert!(printed.iter().any(|l| l.starts_with("export WARRANT_BUNDLER_URL=http://127.0.0.1:")));

    let script = checked_script(&blocks[1]);
    let out = shell(dir.path(), &script).env("WARRANT_PASSWORD", "readme session password").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ok = out.status.success();
    if !ok {
        let _ = devnet.kill();
    }
    assert!(ok, "the README session failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    // In the user's words: the parameter's name, and MOCK's units read from the node (ETH_RPC_URL).
    assert!(
        stderr.contains(
            "pre-flight: denied — ArgumentConditionFailed: amount 200 MOCK is above the limit 100 MOCK"
        ),
        "check names the rule, the parameter and the amounts:\n{stderr}"
    );
    assert!(stdout.contains("included user operation"), "send went through:\n{stdout}");
    assert!(stdout.contains("is a plain EOA again"), "undelegate restored the EOA:\n{stdout}");
    assert!(dir.path().join("devnet.env").exists());

    stop_and_check(devnet, libc::SIGINT, &services);
    assert!(!dir.path().join("devnet.env").exists(), "the env file of a stopped devnet is removed");
}

/// `warrant devnet --json`: one JSON line with the addresses (checksummed), numbers as decimal strings and the
/// environment; SIGTERM stops it as Ctrl-C does.
#[test]
fn devnet_json_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut devnet = shell(dir.path(), "exec warrant devnet --json").stdout(Stdio::piped()).spawn().unwrap();
    let lines = wait_ready(&mut devnet, Duration::from_secs(120), |l| l.starts_with('{'));
    let json: serde_json::Value = serde_json::from_str(lines.last().unwrap()).expect("JSON");
    let services = children(devnet.id());
    assert_eq!(services.len(), 2, "{services:?}");
    let pids: Vec<u32> =
        json["processIds"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(
        pids.iter().copied().collect::<std::collections::BTreeSet<_>>(),
        services.iter().copied().collect()
    );
    assert_eq!(json["chainId"], "31337");
    assert_eq!(json["token"]["decimals"], "18");
    let validator = json["validator"].as_str().unwrap();
    let parsed: alloy::primitives::Address = validator.parse().unwrap();
    assert_eq!(validator, parsed.to_checksum(None), "checksummed");
    assert_eq!(json["env"]["VALIDATOR"], validator);
    assert!(json["rpcUrl"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    stop_and_check(devnet, libc::SIGTERM, &services);
}
