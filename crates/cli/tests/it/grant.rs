//! `warrant grant`: the signed grant matches the scope flags, its id and the owner's ERC-7739 signature check
//! out, and malformed flags are refused by name.

use alloy::{
    primitives::{Address, B256, Signature, U256},
    signers::local::PrivateKeySigner,
};
use warrant_core::token::SignedGrant;

use crate::{stderr, warrant_env};

const OWNER_KEY: &str = "0x0101010101010101010101010101010101010101010101010101010101010101";
pub(crate) const ACCOUNT: &str = "0x000000000000000000000000000000000000bEEF";
pub(crate) const MODULE: &str = "0x1000000000000000000000000000000000000001";
const TOKEN: &str = "0x3000000000000000000000000000000000000003";
const SESSION_KEY: &str = "0x2000000000000000000000000000000000000002";

/// `warrant grant` for [`ACCOUNT`] with the owner's key, then `extra`.
pub(crate) fn grant(extra: &[&str]) -> std::process::Output {
    grant_with(extra, &[("WARRANT_PRIVATE_KEY", OWNER_KEY)])
}

fn grant_with(extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    warrant_env(&grant_args("3", SESSION_KEY, extra), env)
}

/// `grant --account --module --chain-id 31337 --epoch EPOCH --session-key KEY` (the test account and module), then
/// `extra`.
pub(crate) fn grant_args<'a>(epoch: &'a str, session_key: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "grant",
        "--account",
        ACCOUNT,
        "--module",
        MODULE,
        "--chain-id",
        "31337",
        "--epoch",
        epoch,
        "--session-key",
        session_key,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn signed_grant_binds_the_flags_and_verifies() {
    let allow = format!("{TOKEN}:transfer(address to,uint256 amount):to=={ACCOUNT},amount<=100e18");
    let salt = format!("0x{}", "ab".repeat(32));
    let out = grant(&[
        "--allow",
        &allow,
        "--allow",
        &format!("{ACCOUNT}:receive:value<=0.01ether"),
        "--valid-until",
        "4000000000",
        "--max-uses",
        "10",
        "--max-value",
        "0.05ether",
        "--salt",
        &salt,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let signed = SignedGrant::from_token(v["token"].as_str().unwrap()).unwrap();
    assert_eq!((signed.chain_id, signed.module), (31337, MODULE.parse().unwrap()));
    let from_json = SignedGrant::try_from(
        serde_json::from_value::<warrant_core::grant_json::SignedGrantJson>(v["grant"].clone()).unwrap(),
    )
    .unwrap();
    assert_eq!(from_json, signed, "the token and the JSON form carry the same signed grant");
    let grant = signed.grant.clone();
    let account: Address = ACCOUNT.parse().unwrap();
    let module: Address = MODULE.parse().unwrap();
    assert_eq!(grant.account, account);
    assert_eq!(grant.epoch, 3);
    assert_eq!(grant.session.salt, salt.parse::<B256>().unwrap());
    let scope = &grant.session.scope;
    assert_eq!(scope.validUntil.to::<u64>(), 4_000_000_000);
    assert_eq!(scope.maxUses, 10);
    assert_eq!(scope.maxValueTotal, U256::from(5u128 * 10u128.pow(16)));
    assert_eq!(scope.calls.len(), 2);
    assert_eq!(scope.calls[1].maxValue, U256::from(10u128.pow(16)));
    assert_eq!(v["sessionId"].as_str().unwrap().parse::<B256>().unwrap(), grant.session.id(account));

    // The owner's signature: 65 bytes over the ERC-7739 digest, recovering to the owner's address.
    let sig = signed.owner_signature.clone();
    let raw = Signature::from_raw(&sig[..65]).unwrap();
    let owner = PrivateKeySigner::from_bytes(&OWNER_KEY.parse().unwrap()).unwrap().address();
    let digest = grant.erc7739_digest(module, 31337);
    assert_eq!(raw.recover_address_from_prehash(&digest).unwrap(), owner);
    assert_eq!(sig, grant.erc7739_signature(module, 31337, &sig[..65]));
    assert_eq!(signed.recover_owner(), Some(owner));
    assert_eq!(v["owner"].as_str().unwrap().parse::<Address>().unwrap(), owner);
}

#[test]
fn malformed_flags_are_refused_by_name() {
    let cases: [(&[&str], &str); 6] = [
        (&["--allow", "0xnothex:transfer(address,uint256)"], "target"),
        (&["--allow", &format!("{TOKEN}:transfer(address to,uint256 amount):amount<=lots")], "not a number"),
        (&["--allow", &format!("{TOKEN}:*"), "--valid-until", "1000"], "already past"),
        (&["--allow", &format!("{TOKEN}:*"), "--valid-until", "next tuesday"], "time \"next tuesday\""),
        (&["--allow", &format!("{TOKEN}:*"), "--max-value", "1.5"], "--max-value"),
        (&["--allow", &format!("{TOKEN}:*"), "--salt", "0x1234"], "--salt"),
    ];
    for (extra, needle) in cases {
        let out = grant(extra);
        assert!(!out.status.success(), "{extra:?}");
        assert!(stderr(&out).contains(needle), "{extra:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    let budget = ["--max-value", "0.01ether"];
    let out = grant_with(&[&["--allow", &format!("{TOKEN}:*")][..], &budget].concat(), &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no owner key"), "{}", stderr(&out));
    let out = grant_with(
        &[&["--allow", &format!("{TOKEN}:*"), "--private-key", "0x1234"][..], &budget].concat(),
        &[],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("private key must be 32 bytes of hex"), "{}", stderr(&out));
}

#[test]
fn spend_flags_become_limits_with_one_period() {
    let allow = format!("{TOKEN}:transfer(address to,uint256 amount)");
    let spend_daily = format!("{TOKEN}:100e18/1d");
    let spend_total = format!("{TOKEN}:1000e18");
    let out = grant(&[
        "--allow",
        &allow,
        "--spend",
        &spend_daily,
        "--spend",
        &spend_total,
        "--spend-native",
        "0.1ether/24h",
        "--max-uses-per-period",
        "5",
        "--period-start",
        "1700000000",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The JSON form writes wide numbers as decimal strings, so "no cap" (2^128 - 1) survives a serde_json::Value.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["grant"]["grant"]["session"]["scope"]["limits"][1]["lifetime"], u128::MAX.to_string());
    let grant = SignedGrant::from_token(v["token"].as_str().unwrap()).unwrap().grant;
    let scope = &grant.session.scope;
    assert_eq!(scope.period, 86_400);
    assert_eq!(scope.periodStart.to::<u64>(), 1_700_000_000);
    assert_eq!(scope.maxUsesPerPeriod, 5);
    let token: Address = TOKEN.parse().unwrap();
    assert_eq!(scope.limits.len(), 2);
    assert_eq!(
        (scope.limits[0].token, scope.limits[0].perPeriod, scope.limits[0].lifetime),
        (token, 100 * 10u128.pow(18), 1000 * 10u128.pow(18))
    );
    assert_eq!(
        (scope.limits[1].token, scope.limits[1].perPeriod, scope.limits[1].lifetime),
        (Address::ZERO, 10u128.pow(17), u128::MAX)
    );
    // A native limit without --max-value leaves the lifetime native budget to the limit.
    assert_eq!(scope.maxValueTotal, U256::MAX);
}

#[test]
fn spend_flag_mistakes_are_named() {
    let allow = format!("{TOKEN}:transfer(address to,uint256 amount)");
    for (extra, message) in [
        (vec!["--spend", "100e18/1d"], "expected TOKEN:AMOUNT"),
        (
            vec!["--spend", &format!("{TOKEN}:1/1d"), "--spend-native", "1/12h"][..].to_vec(),
            "one period per session",
        ),
        (vec!["--spend", &format!("{TOKEN}:1/soon")][..].to_vec(), "for example 1d"),
        (vec!["--max-uses-per-period", "3"], "--max-uses-per-period needs a period"),
        (vec!["--spend-native", "1e40"], "112-bit"),
    ] {
        let mut args = vec!["--allow", allow.as_str()];
        args.extend(extra.iter().copied());
        let out = grant(&args);
        assert!(!out.status.success(), "{extra:?} must fail");
        let err = stderr(&out);
        assert!(err.contains(message), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A grant the chain would refuse, or that could never act, is not signed (`warrant_core::session_op::sign_grant`).
#[test]
fn zero_fields_are_refused_before_signing() {
    let allow = format!("{TOKEN}:transfer(address to,uint256 amount):amount<=1");
    for (flag, value, expected) in [
        ("--chain-id", "0", "chain id is 0"),
        ("--module", "0x0000000000000000000000000000000000000000", "module is address 0"),
        ("--account", "0x0000000000000000000000000000000000000000", "account is address 0"),
        ("--session-key", "0x0000000000000000000000000000000000000000", "session key is address 0"),
    ] {
        let mut args = grant_args("3", SESSION_KEY, &["--allow", &allow, "--max-value", "0.01ether"]);
        let i = args.iter().position(|a| *a == flag).unwrap();
        args[i + 1] = value;
        let out = warrant_env(&args, &[("WARRANT_PRIVATE_KEY", OWNER_KEY)]);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{flag}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{flag}: nothing signed");
    }
}

/// Without a node, `--chain-id` and `--epoch` are required, and the error says which are missing and that a
/// node (--rpc-url / ETH_RPC_URL) would supply them; nothing is signed. (With a node they default to its chain
/// id and the module's epochOf: the README session in the CLI e2e test.)
#[test]
fn chain_id_and_epoch_are_required_without_a_node() {
    let allow = format!("{TOKEN}:transfer(address to,uint256 amount):to=={ACCOUNT}");
    let base = [
        "grant",
        "--account",
        ACCOUNT,
        "--module",
        MODULE,
        "--session-key",
        SESSION_KEY,
        "--allow",
        &allow,
        "--max-value",
        "1ether",
    ];
    let env = [("WARRANT_PRIVATE_KEY", OWNER_KEY)];
    let out = warrant_env(&base, &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("--chain-id and --epoch not given") && e.contains("--rpc-url (or ETH_RPC_URL)"),
        "{e}"
    );
    assert!(out.stdout.is_empty(), "no token");
    let mut only_epoch = base.to_vec();
    only_epoch.extend(["--chain-id", "1"]);
    let out = warrant_env(&only_epoch, &env);
    assert!(stderr(&out).contains("--epoch not given and no node to read it from"), "{}", stderr(&out));
    // A node that is not there: the error names the request, not a silent default.
    let mut unreachable = only_epoch.clone();
    unreachable.extend(["--rpc-url", "http://127.0.0.1:9"]);
    let out = warrant_env(&unreachable, &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("reading the grant's domain from the node"), "{}", stderr(&out));
    // An API key in the node's URL (path or query) is never printed, in text or JSON errors.
    for url in ["http://127.0.0.1:9/v3/SECRETAPIKEY0123", "http://127.0.0.1:9/?apikey=SECRETAPIKEY0123"] {
        for json in [false, true] {
            let mut args = only_epoch.clone();
            args.extend(["--rpc-url", url]);
            if json {
                args.push("--json");
            }
            let out = warrant_env(&args, &env);
            assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
            assert!(!stderr(&out).contains("SECRETAPIKEY"), "the key leaks: {}", stderr(&out));
            assert!(stderr(&out).contains("http://127.0.0.1:9/…"), "{}", stderr(&out));
        }
    }
}
