//! Bad input to every command: each case must end with exit 2 and a message that names the problem, never a
//! panic, a hang or a silent default. Commands that need a node get one that is not there (`127.0.0.1:9`), so a
//! case that reached the network would fail with a connection error instead of the expected message.

use std::time::{Duration, Instant};

use crate::{
    grant::{ACCOUNT, MODULE, grant_args},
    stderr, warrant_env,
};

const OWNER_KEY: &str = "0x0101010101010101010101010101010101010101010101010101010101010101";
const SESSION_KEY: &str = "0x0202020202020202020202020202020202020202020202020202020202020202";
const BOB: &str = "0x0000000000000000000000000000000000000B0B";
const NODE: &str = "http://127.0.0.1:9";
/// A mixed-case address with a broken EIP-55 checksum (the valid one ends `bEEF`).
const BAD_CHECKSUM: &str = "0x000000000000000000000000000000000000BeEF";

fn token() -> String {
    let session = alloy::signers::local::PrivateKeySigner::from_bytes(&SESSION_KEY.parse().unwrap())
        .unwrap()
        .address()
        .to_string();
    let allow = format!("{BOB}:receive:value<=0.01ether");
    let args =
        grant_args("1", &session, &["--allow", &allow, "--max-value", "0.05ether", "--valid-until", "+1h"]);
    let out = warrant_env(&args, &[("WARRANT_PRIVATE_KEY", OWNER_KEY)]);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A command line, its environment, and what its error must say.
type Case<'a> = (Vec<String>, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn every_command_refuses_bad_input_by_name() {
    let token = token();
    let keys = tempfile::tempdir().unwrap();
    let ks = keys.path().to_str().unwrap();
    let existing = keys.path().join("exists.env");
    std::fs::write(&existing, "x").unwrap();
    let existing = existing.to_str().unwrap();
    let grant_base = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> =
            grant_args("1", BOB, &["--max-value", "1ether"]).iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let owner = [("WARRANT_PRIVATE_KEY", OWNER_KEY)];
    let session = [("WARRANT_PRIVATE_KEY", SESSION_KEY)];
    let none: [(&str, &str); 0] = [];
    #[rustfmt::skip]
    let cases: Vec<Case<'_>> = vec![
        // demo, devnet
        (v(&["demo", "--bogus"]), &none, "unexpected argument '--bogus'"),
        (v(&["devnet", "--env-file", existing]), &none, "exists; refusing to overwrite it"),
        // key
        (v(&["key", "new", "..", "--keystore", ks]), &[("WARRANT_PASSWORD", "pw")], "invalid key name"),
        (v(&["key", "new", ".hidden", "--keystore", ks]), &[("WARRANT_PASSWORD", "pw")], "invalid key name"),
        (v(&["key", "new", "ok", "--keystore", ks]), &[("WARRANT_PASSWORD", "")], "refusing an empty password"),
        (v(&["key", "address", "nobody", "--keystore", ks]), &none, "no key named \"nobody\""),
        (v(&["key", "import", "x", "--from-file", "/nonexistent.json", "--keystore", ks]),
            &[("WARRANT_PASSWORD", "pw"), ("WARRANT_IMPORT_PASSWORD", "pw")], "/nonexistent.json"),
        // grant
        (grant_base(&["--allow", "0x12:transfer(address,uint256)"]), &owner, "0x12"),
        (grant_base(&["--allow", leak(format!("{BAD_CHECKSUM}:transfer(address,uint256)"))]), &owner, "checksum"),
        (grant_base(&["--allow", leak(format!("{BOB}:transfer(address to,uint256 amount):amount<="))]), &owner, "the uint256 value is missing"),
        (grant_base(&["--allow", leak(format!("{BOB}:receive")), "--spend", leak(format!("{BOB}:"))]), &owner, "the number is missing"),
        (grant_base(&["--allow", leak(format!("{BOB}:receive")), "--valid-until", "yesterday"]), &owner, "time \"yesterday\": timestamp format is invalid"),
        (grant_base(&["--allow", leak(format!("{BOB}:nosuchfunction"))]), &owner, "nosuchfunction"),
        (v(&["grant", "--account", ACCOUNT, "--module", MODULE, "--session-key", BOB, "--allow", "*:*",
            "--max-value", "1ether"]), &owner, "no node to read them from"),
        // explain, check
        (v(&["explain", "warrant1notatoken"]), &none, "grant token"),
        (v(&["explain", "{\"grant\": 1}"]), &none, "grant JSON"),
        (v(&["check", &token, "--to", BOB, "--value", ""]), &none, "--value"),
        (v(&["check", &token, "--to", BOB, "--sig", "transfer(address,uint256)", BOB]), &none, "takes 2 arguments, 1 given"),
        (v(&["check", &token, "--to", BOB, "--sig", "transfer(address,uint256)", BOB, "12x"]), &none, "argument 1"),
        (v(&["check", &token, "--to", BAD_CHECKSUM]), &none, "checksum"),
        (v(&["check", &token, "--to", BOB, "extra"]), &none, "arguments given without --sig"),
        // send, status
        (v(&["send", &token, "--to", BOB, "--rpc-url", NODE]), &owner, "the grant's session key is"),
        (v(&["send", &token, "--to", BOB, "--value", "-1", "--rpc-url", NODE]), &session, "--value"),
        (v(&["send", &token, "--to", BOB, "--rpc-url", NODE, "--rpc-timeout", "0"]), &session, "--rpc-timeout"),
        (v(&["send", &token, "--to", BOB, "--rpc-url", "not a url"]), &session, "--rpc-url"),
        (v(&["status", "warrant1AAAA", "--rpc-url", NODE]), &none, "grant token"),
        (v(&["status", &token]), &none, "--rpc-url"),
        // revoke
        (v(&["revoke", "--rpc-url", NODE]), &owner, "which account?"),
        (v(&["revoke", &token, "--session-id", "0x01", "--rpc-url", NODE]), &owner, "invalid string length"),
        (v(&["revoke", &token, "--session-id", leak(format!("0x{}", "11".repeat(32))), "--rpc-url", NODE]), &owner, "cannot be used with"),
        (v(&["revoke", &token, "--account", BOB, "--rpc-url", NODE]), &owner, "disagrees with the grant"),
        (v(&["revoke", &token, "--module", BOB, "--rpc-url", NODE]), &owner, "disagrees with the grant"),
        (v(&["revoke", "--all", "--account", ACCOUNT, "--module", MODULE, "--rpc-url", NODE]), &none, "no owner key"),
        // delegate, undelegate
        (v(&["delegate", "--delegate", "0x12", "--rpc-url", NODE]), &owner, "invalid value '0x12'"),
        (v(&["delegate", "--delegate", BOB, "--temporary", existing, "--install-module", MODULE, "--rpc-url", NODE]),
            &owner, "exists; refusing to overwrite it"),
        (v(&["delegate", "--delegate", BOB, "--temporary", "r.json", "--rpc-url", NODE]), &owner, "--install-module"),
        (v(&["undelegate", "--rpc-url", NODE]), &owner, "which validator's sessions"),
        (v(&["undelegate", "--auth", existing, "--rpc-url", NODE]), &none, existing),
        (v(&["undelegate", "--keep-sessions", "--rpc-url", NODE]), &[("WARRANT_PRIVATE_KEY", "0x1234")], "WARRANT_PRIVATE_KEY: private key must be 32 bytes of hex"),
        // auth
        (v(&["auth", "sign", "--chain-id", "0", "--address", BOB, "--nonce", "0"]), &owner, "--any-chain"),
        (v(&["auth", "sign", "--chain-id", "1", "--address", BOB, "--nonce", "0"]), &none, "--private-key"),
        (v(&["auth", "recover", "{}"]), &none, "authorization"),
    ];
    let mut failures = Vec::new();
    for (args, env, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let start = Instant::now();
        let out = warrant_env(&args, env);
        let e = stderr(&out);
        let problem = if start.elapsed() > Duration::from_secs(30) {
            Some(format!("took {:?}", start.elapsed()))
        } else if out.status.code() != Some(2) {
            Some(format!("exit {:?}", out.status.code()))
        } else if !e.contains(needle) {
            Some(format!("no {needle:?}"))
        } else if e.contains("panicked") {
            Some("panicked".into())
        } else if !out.stdout.is_empty() {
            Some(format!("printed {}", String::from_utf8_lossy(&out.stdout)))
        } else {
            None
        };
        if let Some(problem) = problem {
            failures.push(format!("{args:?}: {problem}; stderr: {e}"));
        }
    }
    assert!(failures.is_empty(), "{} bad-input cases failed:\n{}", failures.len(), failures.join("\n"));
}

/// The same refusals with `--json`: one JSON object on stderr, `{error, rule, detail}`.
#[test]
fn json_errors_are_json_on_stderr() {
    let token = token();
    for args in [
        vec!["explain", "warrant1notatoken", "--json"],
        vec!["check", &token, "--to", BOB, "--value", "", "--json"],
        vec!["revoke", &token, "--account", BOB, "--rpc-url", NODE, "--json"],
    ] {
        let out = warrant_env(&args, &[("WARRANT_PRIVATE_KEY", OWNER_KEY)]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let v: serde_json::Value = serde_json::from_str(stderr(&out).trim())
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stderr(&out)));
        assert_eq!(v["error"], "error", "{v}");
        assert!(v["rule"].is_null() && v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    }
    // A denial with --json: exit 1, the rule named.
    let out = warrant_env(&["check", &token, "--to", BOB, "--value", "1ether", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// JSON output writes addresses checksummed (alloy's serde writes them in lowercase) and leaves other hex alone.
#[test]
fn json_addresses_are_checksummed() {
    let allow = format!("{BOB}:receive");
    let args = grant_args("1", BOB, &["--allow", &allow, "--max-value", "1ether", "--json"]);
    let out = warrant_env(&args, &[("WARRANT_PRIVATE_KEY", OWNER_KEY)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let owner =
        alloy::signers::local::PrivateKeySigner::from_bytes(&OWNER_KEY.parse().unwrap()).unwrap().address();
    assert_eq!(v["owner"], owner.to_checksum(None));
    assert!(text.contains(ACCOUNT) && !text.contains(&ACCOUNT.to_lowercase()), "{text}");
    let id = v["sessionId"].as_str().unwrap();
    assert_eq!(id, id.to_lowercase(), "a 32-byte id is not an address");
}
