//! The service demo as a newcomer runs it (`scripts/demo --service`), with the `warrant` under test: it must
//! exit 0 (it checks its own story) and show two runs that went, the one the daily limit refused with the rule
//! named, and the refill after which it went.

use std::{net::TcpListener, path::Path, process::Command};

#[test]
fn service_demo_runs_as_the_readme_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let port = TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let out = Command::new(root.join("scripts/demo"))
        .arg("--service")
        .env("WARRANT_BIN", env!("CARGO_BIN_EXE_warrant"))
        .env("DEMO_PORT", port.to_string())
        .output()
        .expect("scripts/demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!(
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(stdout.contains("rule PeriodSpendLimitExceeded"), "the refusal names its rule: {report}");
    assert!(stdout.contains("left this period"), "the sessions show what is left: {report}");
    assert!(stdout.contains("done: 3 runs included"), "{report}");
}
