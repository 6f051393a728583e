//! `warrant explain` and `warrant check` on a token made by `warrant grant`: the text says what the scope allows,
//! and the pre-flight allows what is in scope and denies the rest by the on-chain rule's name (exit 1).

use crate::{stderr, warrant, warrant_env};

const OWNER_KEY: &str = "0x0101010101010101010101010101010101010101010101010101010101010101";
const ACCOUNT: &str = "0x000000000000000000000000000000000000bEEF";
const MODULE: &str = "0x1000000000000000000000000000000000000001";
const TOKEN: &str = "0x3000000000000000000000000000000000000003";
const BOB: &str = "0x0000000000000000000000000000000000000B0B";
const SESSION_KEY: &str = "0x0202020202020202020202020202020202020202020202020202020202020202";

fn session_address() -> String {
    alloy::signers::local::PrivateKeySigner::from_bytes(&SESSION_KEY.parse().unwrap())
        .unwrap()
        .address()
        .to_string()
}

fn token() -> String {
    let session = session_address();
    let allow = format!("{TOKEN}:transfer(address to,uint256 amount):to=={BOB},amount<=100e18");
    let out = warrant_env(
        &[
            "grant",
            "--account",
            ACCOUNT,
            "--module",
            MODULE,
            "--chain-id",
            "31337",
            "--epoch",
            "0",
            "--session-key",
            &session,
            "--allow",
            &allow,
            "--allow",
            &format!("{BOB}:receive:value<=0.01ether"),
            "--max-value",
            "0.05ether",
            "--valid-until",
            "+1h",
            "--max-uses",
            "10",
        ],
        &[("WARRANT_PRIVATE_KEY", OWNER_KEY)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("warrant1"), "{token}");
    token
}

#[test]
fn explain_says_what_the_grant_allows() {
    let token = token();
    let out = warrant(&["explain", &token, "--token", &format!("{TOKEN}:18:TKN")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("transfer(address,uint256)"), "{text}");
    assert!(text.contains("100"), "{text}");
    assert!(text.contains("at most 10"), "{text}");
    assert!(text.contains("UTC"), "{text}");
    assert!(text.contains("Signed by 0x"), "{text}");

    let out = warrant(&["explain", &token, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["sessionId"].as_str().unwrap().starts_with("0x"));
    assert!(v["explanation"].as_str().unwrap().contains("transfer"));
}

#[test]
fn check_allows_in_scope_and_names_the_rule_otherwise() {
    let token = token();
    let check = |extra: &[&str]| {
        let mut args = vec!["check", token.as_str()];
        args.extend_from_slice(extra);
        warrant(&args)
    };
    let out = check(&["--to", TOKEN, "--sig", "transfer(address,uint256)", BOB, "100000000000000000000"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));

    for (extra, rule) in [
        (
            vec!["--to", TOKEN, "--sig", "transfer(address,uint256)", BOB, "100000000000000000001"],
            "ArgumentConditionFailed",
        ),
        (vec!["--to", TOKEN, "--sig", "transfer(address,uint256)", ACCOUNT, "1"], "ArgumentConditionFailed"),
        (vec!["--to", TOKEN, "--sig", "approve(address,uint256)", BOB, "1"], "CallNotPermitted"),
        (vec!["--to", BOB, "--value", "0.02ether"], "CallValueExceeded"),
        (
            vec!["--to", BOB, "--value", "0.01ether", "--value-spent", "45000000000000000", "--uses", "2"],
            "SessionValueExceeded",
        ),
        (vec!["--to", BOB, "--uses", "10"], "UsesExhausted"),
        (vec!["--to", ACCOUNT], "ForbiddenTarget"),
        (vec!["--to", BOB, "--at", "+2h"], "SessionExpired"),
    ] {
        let mut args = extra.clone();
        args.push("--json");
        let out = check(&args);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["allowed"], false);
        assert_eq!(v["rule"], rule, "{extra:?}: {v}");
        if extra.get(4) == Some(&"100000000000000000001") {
            // No node and no --token hint: the amount is raw, and says so.
            let raw = format!("(raw units of {TOKEN})");
            assert_eq!(
                v["detail"],
                format!("amount 100000000000000000001 {raw} is above the limit 100000000000000000000 {raw}"),
                "the failed bound is shown"
            );
        }
    }
}

/// The pre-flight speaks the user's words: the parameter by name, the amount in token units, the rule first
/// and unchanged; `--json` carries the words in `detail` (and the whole sentence in `message`).
#[test]
fn check_names_the_parameter_and_shows_token_units() {
    let token = token();
    let hint = format!("{TOKEN}:18:MOCK");
    let over = ["--to", TOKEN, "--sig", "transfer(address,uint256)", BOB, "500e18", "--token", &hint];
    let mut args = vec!["check", token.as_str()];
    args.extend_from_slice(&over);
    let out = warrant(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        "pre-flight: denied — ArgumentConditionFailed: amount 500 MOCK is above the limit 100 MOCK"
    );
    args.push("--json");
    let out = warrant(&args);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rule"], "ArgumentConditionFailed");
    assert_eq!(v["detail"], "amount 500 MOCK is above the limit 100 MOCK");
    assert_eq!(v["message"], "ArgumentConditionFailed: amount 500 MOCK is above the limit 100 MOCK");

    // The wrong recipient, by name; an expired session, by date.
    let out = warrant(&["check", &token, "--to", TOKEN, "--sig", "transfer(address,uint256)", ACCOUNT, "1"]);
    let text = stderr(&out).to_lowercase();
    let expected = format!("argumentconditionfailed: to is {ACCOUNT}, and the scope permits only {BOB}");
    assert!(text.contains(&expected.to_lowercase()), "{text}");
    let out = warrant(&["check", &token, "--to", BOB, "--at", "2100-01-01T00:00:00Z"]);
    let text = stderr(&out);
    assert!(text.contains("SessionExpired: the session expired at 20"), "{text}");
    assert!(text.ends_with("; it is 2100-01-01T00:00:00Z now\n"), "{text:?}");
}

#[test]
fn corrupted_tokens_and_bad_calls_are_errors() {
    let token = token();
    let mut corrupted = token.clone().into_bytes();
    let i = corrupted.len() / 2;
    corrupted[i] = if corrupted[i] == b'A' { b'B' } else { b'A' };
    let corrupted = String::from_utf8(corrupted).unwrap();
    for args in [
        vec!["explain", corrupted.as_str()],
        vec!["explain", "warrant2AAAA"],
        vec!["explain", "not a token"],
        vec!["check", token.as_str(), "--to", TOKEN, "--sig", "transfer(address,uint256)", "0x12", "1"],
        vec!["check", token.as_str(), "--to", TOKEN, "--sig", "transfer(address,uint256)", BOB],
        vec!["check", token.as_str(), "--to", "0xzz"],
    ] {
        let out = warrant(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).starts_with("error: "), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}

#[test]
fn network_commands_refuse_bad_input_before_any_network_call() {
    let token = token();
    let empty = tempfile::tempdir().unwrap();
    let ks = empty.path().to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // A missing keystore key is named; no password is asked for.
        (
            vec![
                "send",
                &token,
                "--to",
                BOB,
                "--key",
                "nobody",
                "--keystore",
                ks,
                "--rpc-url",
                "http://127.0.0.1:9",
            ],
            "no key named \"nobody\"",
        ),
        // The session key must be the grant's.
        (
            vec!["send", &token, "--to", BOB, "--private-key", OWNER_KEY, "--rpc-url", "http://127.0.0.1:9"],
            "the grant's session key is",
        ),
        (
            vec![
                "send",
                "warrant1AAAA",
                "--to",
                BOB,
                "--private-key",
                OWNER_KEY,
                "--rpc-url",
                "http://127.0.0.1:9",
            ],
            "grant token",
        ),
        (vec!["revoke", "--private-key", OWNER_KEY, "--rpc-url", "http://127.0.0.1:9"], "which account?"),
        (
            vec![
                "revoke",
                "--account",
                ACCOUNT,
                "--module",
                MODULE,
                "--private-key",
                OWNER_KEY,
                "--rpc-url",
                "http://127.0.0.1:9",
            ],
            "what to revoke?",
        ),
        (
            vec![
                "delegate",
                "--delegate",
                "0x12",
                "--private-key",
                OWNER_KEY,
                "--rpc-url",
                "http://127.0.0.1:9",
            ],
            "invalid value '0x12'",
        ),
        (
            vec![
                "undelegate",
                "--auth",
                "/nonexistent/reset.json",
                "--private-key",
                OWNER_KEY,
                "--rpc-url",
                "http://127.0.0.1:9",
            ],
            "/nonexistent/reset.json: cannot read it",
        ),
    ];
    for (args, needle) in cases {
        let out = warrant(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}

#[test]
fn an_unreachable_node_is_an_error_not_a_panic() {
    let token = token();
    let out = warrant(&[
        "send",
        &token,
        "--to",
        BOB,
        "--private-key",
        SESSION_KEY,
        "--rpc-url",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error: "), "{err}");
}

/// `explain` names a P-256 session key the token carries (kind and coordinates), not just its identifier.
#[test]
fn explain_names_a_p256_session_key() {
    use warrant_core::{
        p256::{P256Kind, P256Signer},
        token::SignedGrant,
    };
    let key = P256Signer::from_bytes(P256Kind::WebCrypto, &[7; 32]).unwrap();
    let identifier = key.signer().to_string();
    let allow = format!("{BOB}:receive:value<=0.01ether");
    let out = warrant_env(
        &crate::grant::grant_args("1", &identifier, &["--allow", &allow, "--max-value", "0.05ether"]),
        &[("WARRANT_PRIVATE_KEY", OWNER_KEY)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let plain = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let carrying =
        SignedGrant::from_token(&plain).unwrap().with_session_key(key.key()).unwrap().to_token().unwrap();
    let out = warrant(&["explain", &carrying]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let k = key.key();
    let named = format!("P-256 (WebCrypto) session key {identifier} (public key x {}, y {})", k.x, k.y);
    assert!(text.starts_with(&named), "{text}");
    // The JSON form keeps the key: explained from it, the key is named the same way.
    let out = warrant(&["explain", &carrying, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["grant"]["sessionKey"]["kind"], 2, "{v}");
    let out = warrant(&["explain", &v["grant"].to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8(out.stdout).unwrap().starts_with(&named));
}
