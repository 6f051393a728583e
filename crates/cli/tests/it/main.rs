//! Integration tests of the `warrant` binary.

use std::process::Command;

pub(crate) fn warrant(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_warrant")).args(args).output().expect("warrant runs")
}

mod auth;

#[test]
fn demo_json_reports_every_step_as_expected() {
    let out = warrant(&["demo", "--json"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    let steps = report["steps"].as_array().expect("steps array");
    let names: Vec<_> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["delegate_eoa", "owner_transfer", "replayed_op", "forged_signature", "restore_eoa"]);
    for step in steps {
        assert_eq!(step["outcome"], step["expected"], "{step}");
        assert!(step["gas_used"].as_u64().unwrap() > 21_000, "{step}");
        let rejected = step["outcome"] == "rejected";
        assert_eq!(step["error"].is_string(), rejected, "a rejection names its reason: {step}");
    }
    assert!(steps[2]["error"].as_str().unwrap().starts_with("AA25"));
    assert!(steps[3]["error"].as_str().unwrap().starts_with("AA24"));
}

#[test]
fn demo_narrates_in_human_form() {
    let out = warrant(&["demo"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("EntryPoint v0.8 at 0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108"), "{text}");
    assert!(text.contains("Every step ended as expected."), "{text}");
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
