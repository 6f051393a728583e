//! Integration tests of the `warrant` binary.

use std::process::Command;

pub(crate) fn warrant(args: &[&str]) -> std::process::Output {
    warrant_env(args, &[])
}

/// Runs `warrant` with only the given Warrant variables set (none leak in from the caller's environment).
pub(crate) fn warrant_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warrant"));
    for var in [
        "WARRANT_PASSWORD",
        "WARRANT_PRIVATE_KEY",
        "WARRANT_KEYSTORE",
        "ETH_RPC_URL",
        "WARRANT_IMPORT_PASSWORD",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied()).args(args).output().expect("warrant runs")
}

/// As [`warrant_env`], in a new session (no controlling terminal, so nothing can prompt on one), with `stdin`
/// piped in.
pub(crate) fn warrant_detached(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> std::process::Output {
    use std::{io::Write, os::unix::process::CommandExt, process::Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_warrant"));
    for var in [
        "WARRANT_PASSWORD",
        "WARRANT_PRIVATE_KEY",
        "WARRANT_KEYSTORE",
        "ETH_RPC_URL",
        "WARRANT_IMPORT_PASSWORD",
    ] {
        command.env_remove(var);
    }
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("warrant runs");
    let mut input = child.stdin.take().unwrap();
    // The command may end before reading stdin (a refused name): a broken pipe is not the test's failure.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

pub(crate) fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

mod auth;
mod bad_input;
mod erc7715;
mod gates;
mod grant;
mod input;
mod inspect;
mod keys;
mod scope_rules;

#[test]
fn demo_json_reports_every_step_as_expected() {
    let out = warrant(&["demo", "--json"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    let steps = report["steps"].as_array().expect("steps array");
    let names: Vec<_> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "delegate_eoa",
            "install_validator",
            "enable_and_transfer",
            "transfer_in_scope",
            "wrong_target",
            "wrong_selector",
            "argument_over_limit",
            "value_over_cap",
            "self_call",
            "batch_smuggling",
            "after_expiry",
            "after_revoke",
            "static_session",
            "spend_over_period_limit",
            "spend_after_refill",
            "session_pass_moved_out",
            "session_pass_back",
            "restore_eoa",
            "old_session_after_restore",
        ]
    );
    for step in steps {
        assert_eq!(step["outcome"], step["expected"], "{step}");
        assert!(step["gas_used"].as_u64().unwrap() > 21_000, "{step}");
        let rejected = step["outcome"] == "rejected";
        assert_eq!(step["error"].is_string(), rejected, "a rejection names its reason: {step}");
    }
    let error =
        |name: &str| steps.iter().find(|s| s["name"] == name).unwrap()["error"].as_str().unwrap().to_string();
    // Each refusal names the validator's rule (inside the EntryPoint's AA23) or the EntryPoint's time check.
    for (name, rule) in [
        ("wrong_target", "AA23 reverted: CallNotPermitted: call 0 "),
        ("wrong_selector", "AA23 reverted: CallNotPermitted: call 0 "),
        (
            "argument_over_limit",
            "AA23 reverted: ArgumentConditionFailed: call 0, argument word 1 fails condition LTE",
        ),
        ("value_over_cap", "AA23 reverted: CallValueExceeded: call 0 "),
        ("self_call", "AA23 reverted: ForbiddenTarget: call 0 "),
        ("batch_smuggling", "AA23 reverted: CallNotPermitted: call 1 "),
        ("after_expiry", "AA22 expired or not due"),
        ("after_revoke", "AA23 reverted: SessionRevoked: "),
        ("spend_over_period_limit", "AA23 reverted: PeriodSpendLimitExceeded: "),
        ("session_pass_moved_out", "AA23 reverted: GateNotHeld: gate 0 "),
        // Hole 6: the restore moved the epoch, so re-delegating does not revive the session.
        ("old_session_after_restore", "AA23 reverted: SessionNotEnabled: "),
    ] {
        assert!(error(name).starts_with(rule), "{name}: {}", error(name));
    }
}

#[test]
fn demo_narrates_in_human_form() {
    let out = warrant(&["demo"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("EntryPoint v0.8 at 0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108"), "{text}");
    assert!(text.contains("Every step ended as expected"), "{text}");
    assert!(text.contains("pre-flight: denied — CallNotPermitted"), "{text}");
}

#[test]
fn bad_arguments_fail_cleanly_on_stderr() {
    for args in [&["demo", "--no-such-flag"][..], &["no-such-command"][..], &[][..]] {
        let out = warrant(args);
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.is_empty(), "{args:?}: the error is on stderr");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}
