//! `warrant grant --from-7715`: a request file gives the same grant token as the equivalent scope flags, and
//! what can't be translated exactly is refused by type or field.

use serde_json::{Value, json};
use warrant_core::{erc7715::grant_from_context, grant::GasBudget, token::SignedGrant};

use crate::{stderr, warrant_env};

const OWNER_KEY: &str = "0x0101010101010101010101010101010101010101010101010101010101010101";
const ACCOUNT: &str = "0x000000000000000000000000000000000000bEEF";
const MODULE: &str = "0x1000000000000000000000000000000000000001";
const TOKEN: &str = "0x3000000000000000000000000000000000000003";
const SESSION_KEY: &str = "0x2000000000000000000000000000000000000002";
const PAYEE: &str = "0x4000000000000000000000000000000000000004";
const START: u64 = 1_800_000_000;
const EXPIRY: u64 = 4_000_000_000;

fn salt() -> String {
    format!("0x{}", "cd".repeat(32))
}

fn run(args: &[&str]) -> std::process::Output {
    warrant_env(args, &[("WARRANT_PRIVATE_KEY", OWNER_KEY)])
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// Writes `request` to a file and runs `grant --from-7715 FILE --module --epoch 3 --salt`, then `extra`.
fn from_7715(dir: &tempfile::TempDir, request: &Value, extra: &[&str]) -> std::process::Output {
    let path = dir.path().join("request.json");
    std::fs::write(&path, serde_json::to_vec(request).unwrap()).unwrap();
    let path = path.to_str().unwrap().to_string();
    let salt = salt();
    let mut args =
        vec!["grant", "--from-7715", &path, "--module", MODULE, "--epoch", "3", "--salt", &salt, "--json"];
    args.extend_from_slice(extra);
    run(&args)
}

/// `grant` with the scope flags for the same account, chain, session key and salt, then `extra`.
fn with_flags(extra: &[&str]) -> std::process::Output {
    let salt = salt();
    let mut args = vec![
        "grant",
        "--account",
        ACCOUNT,
        "--module",
        MODULE,
        "--chain-id",
        "31337",
        "--epoch",
        "3",
        "--session-key",
        SESSION_KEY,
        "--salt",
        &salt,
        "--json",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn erc20_periodic() -> Value {
    json!({
        "chainId": "0x7a69",
        "from": ACCOUNT,
        "to": SESSION_KEY,
        "permission": {
            "type": "erc20-token-periodic",
            "isAdjustmentAllowed": false,
            "data": { "tokenAddress": TOKEN, "periodAmount": "0xf4240", "periodDuration": 86400, "startTime": START }
        },
        "rules": [{ "type": "expiry", "data": { "timestamp": EXPIRY } }]
    })
}

#[test]
fn erc20_periodic_request_signs_the_same_token_as_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let from = json_of(&from_7715(&dir, &erc20_periodic(), &["--max-value", "0.01ether"]));
    let valid_until = (EXPIRY - 1).to_string();
    let spend = format!("{TOKEN}:1000000/1d");
    let allow = format!("{TOKEN}:transfer(address,uint256)");
    let flags = json_of(&with_flags(&[
        "--allow",
        &allow,
        "--spend",
        &spend,
        "--period-start",
        &START.to_string(),
        "--valid-until",
        &valid_until,
        "--max-value",
        "0.01ether",
    ]));
    assert_eq!(from["token"], flags["token"], "one grant, two ways to ask for it");
    let token = from["token"].as_str().unwrap();
    let response = &from["erc7715Response"];
    assert_eq!(response["permission"]["type"], "erc20-token-periodic");
    assert_eq!(response["delegationManager"], MODULE);
    assert_eq!(response["dependencies"], json!([]));
    let signed = grant_from_context(response["context"].as_str().unwrap()).unwrap();
    assert_eq!(signed, SignedGrant::from_token(token).unwrap(), "the context is the grant token");
    assert!(flags.get("erc7715Response").is_none());
}

#[test]
fn native_periodic_with_a_payee_matches_the_flags_and_its_limit_bounds_gas() {
    let dir = tempfile::tempdir().unwrap();
    // The legacy-era number chain id, and `from` left to --account.
    let request = json!({
        "chainId": 31337,
        "to": SESSION_KEY,
        "permission": {
            "type": "native-token-periodic",
            "isAdjustmentAllowed": true,
            "data": { "periodAmount": "0x2386f26fc10000", "periodDuration": 3600, "startTime": START }
        },
        "rules": [{ "type": "payee", "data": { "addresses": [PAYEE] } }]
    });
    let from = json_of(&from_7715(&dir, &request, &["--account", ACCOUNT]));
    let allow = format!("{PAYEE}:receive:value<=0.01ether");
    let flags = json_of(&with_flags(&[
        "--allow",
        &allow,
        "--spend-native",
        "0.01ether/1h",
        "--period-start",
        &START.to_string(),
    ]));
    assert_eq!(from["token"], flags["token"]);
    let scope = SignedGrant::from_token(from["token"].as_str().unwrap()).unwrap().grant.session.scope;
    assert!(
        matches!(scope.gas_budget(), GasBudget::Native { native_limit: Some((per_period, _)), .. }
            if per_period == 10u128.pow(16)),
        "the account pays gas out of the permission's own limit: {:?}",
        scope.gas_budget()
    );

    // A native permission's limit bounds its gas; a lifetime cap of its own would cap the transfers below it.
    let err = stderr(&from_7715(&dir, &request, &["--account", ACCOUNT, "--max-value", "1ether"]));
    assert!(err.contains("gas.maxValueTotal: a native permission's own limit bounds its gas"), "{err}");

    // `from` in the request and --account must agree; the payee may not be the account.
    let other = "0x000000000000000000000000000000000000cafe";
    let out = json_of(&from_7715(&dir, &with_request_from(request.clone(), other), &["--account", other]));
    assert_ne!(out["token"], flags["token"]);
    let err = stderr(&from_7715(&dir, &with_request_from(request, PAYEE), &[]));
    assert!(err.contains("rules[0].data.addresses: the account itself can't be a payee"), "{err}");
}

fn with_request_from(mut request: Value, from: &str) -> Value {
    request["from"] = json!(from);
    request
}

#[test]
fn untranslatable_requests_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut stream = erc20_periodic();
    stream["permission"] = json!({
        "type": "native-token-stream", "isAdjustmentAllowed": true,
        "data": { "amountPerSecond": "0x1", "maxAmount": "0x100" }
    });
    let out = from_7715(&dir, &stream, &["--max-value", "0.01ether"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("permission.type") && err.contains("native-token-stream") && err.contains("refused"),
        "{err}"
    );

    // An ERC-20 permission moves no native value: gas needs a budget or a sponsor, and the message says how.
    let out = from_7715(&dir, &erc20_periodic(), &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("gas.maxValueTotal") && err.contains("--max-value") && err.contains("--paymaster"),
        "{err}"
    );

    let mut typo = erc20_periodic();
    typo["permission"]["data"]["periodAmmount"] = json!("0x1");
    let err = stderr(&from_7715(&dir, &typo, &["--max-value", "1"]));
    assert!(err.contains("permission.data.periodAmmount: unknown field"), "{err}");

    let err = stderr(&from_7715(&dir, &erc20_periodic(), &["--account", PAYEE, "--max-value", "1"]));
    assert!(err.contains("from:"), "{err}");

    let err = stderr(&from_7715(&dir, &json!([erc20_periodic(), erc20_periodic()]), &["--max-value", "1"]));
    assert!(err.contains("2 requests"), "{err}");

    let out = from_7715(&dir, &erc20_periodic(), &["--allow", &format!("{TOKEN}:*")]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));

    let out = run(&["grant", "--from-7715", "/nonexistent/request.json", "--module", MODULE, "--epoch", "0"]);
    assert!(stderr(&out).contains("/nonexistent/request.json"), "{}", stderr(&out));
}
