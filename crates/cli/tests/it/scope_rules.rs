//! Issue 11 on the CLI: `argN` is parameter N whatever the types before it (hole 7), conditions are typed and
//! their values parsed per type (hole 3), and `warrant grant` refuses a gas budget that is unbounded or zero
//! (hole 2). Each refusal names the problem; each accepted rule is judged by `check` on real calldata.

use alloy::primitives::{Address, B256, U256};
use warrant_core::{grant::arg_type, policy::condition, token::SignedGrant};

use crate::{stderr, warrant, warrant_env};

const OWNER_KEY: &str = "0x0101010101010101010101010101010101010101010101010101010101010101";
const ACCOUNT: &str = "0x000000000000000000000000000000000000bEEF";
const MODULE: &str = "0x1000000000000000000000000000000000000001";
const TARGET: &str = "0x3000000000000000000000000000000000000003";
const SESSION_KEY: &str = "0x2000000000000000000000000000000000000002";
const BOB: &str = "0x0000000000000000000000000000000000000B0B";

fn grant(extra: &[&str]) -> std::process::Output {
    let mut args = vec![
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
        SESSION_KEY,
        "--valid-until",
        "+1h",
    ];
    args.extend_from_slice(extra);
    warrant_env(&args, &[("WARRANT_PRIVATE_KEY", OWNER_KEY)])
}

/// A token for one `--allow` with a native budget of 0.01 ETH (gas included).
fn token_for(allow: &str) -> String {
    let out = grant(&["--allow", allow, "--max-value", "0.01ether"]);
    assert!(out.status.success(), "{allow}: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn refused(extra: &[&str], needle: &str) {
    let out = grant(extra);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{extra:?} must be refused as bad input: {err}");
    assert!(err.contains(needle), "{extra:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "no token on a refusal");
}

/// `check` of a call of `sig` with `args` on TARGET; its exit code and verdict (stdout when allowed, stderr
/// when denied).
fn check(token: &str, sig: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut argv = vec!["check", token, "--to", TARGET, "--sig", sig];
    argv.extend_from_slice(args);
    let out = warrant(&argv);
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let verdict = if out.status.success() { String::from_utf8(out.stdout).unwrap() } else { stderr(&out) };
    (out.status.code(), verdict)
}

/// The exact case of hole 7: after a `uint256[2]`, `arg2` is the third parameter (head word 3), so a call
/// whose third parameter is 100 is denied and one whose *second* is 100 is allowed.
#[test]
fn arg2_after_a_static_array_constrains_the_third_parameter() {
    let token = token_for(&format!("{TARGET}:f(uint256[2],uint256,uint256):arg2<=5"));
    let scope = SignedGrant::from_token(&token).unwrap().grant.session.scope;
    let c = &scope.calls[0].conditions[0];
    assert_eq!((c.condition, c.argType, c.argIndex), (condition::LTE, arg_type::uint(256), 3));

    let sig = "f(uint256[2],uint256,uint256)";
    let (code, text) = check(&token, sig, &["[1,2]", "3", "100"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("ArgumentConditionFailed"), "{text}");
    // The parameter as the rule names it (`arg2`: the signature has no names), not its head word.
    assert!(text.contains("ArgumentConditionFailed: arg2 100 is above the limit 5"), "{text}");
    let (code, text) = check(&token, sig, &["[1,2]", "100", "5"]);
    assert_eq!(code, Some(0), "the second parameter is not constrained: {text}");

    // explain says which parameter the word is, given the signature with the user's names.
    let out = warrant(&["explain", &token, "--sig", "f(uint256[2] pair,uint256 fee,uint256 cap)"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("argument word 3 is `cap` (parameter 2, uint256)"), "{text}");
    // At grant time the CLI knows the signature: its summary names the parameter too.
    let out = grant(&[
        "--allow",
        &format!("{TARGET}:f(uint256[2] pair,uint256 fee,uint256 cap):cap<=5"),
        "--max-value",
        "0.01ether",
    ]);
    assert!(stderr(&out).contains("argument word 3 is `cap` (parameter 2, uint256)"), "{}", stderr(&out));
}

#[test]
fn signed_conditions_compare_signed() {
    let token = token_for(&format!("{TARGET}:f(int256 x,int8 y):x>=-5,y<0"));
    let scope = SignedGrant::from_token(&token).unwrap().grant.session.scope;
    let c = &scope.calls[0].conditions;
    assert_eq!((c[0].argType, c[1].argType), (arg_type::int(256), arg_type::int(8)));
    assert_eq!(c[0].values[0], B256::from(U256::ZERO.wrapping_sub(U256::from(5))), "-5, sign-extended");
    let sig = "f(int256,int8)";
    assert_eq!(check(&token, sig, &["-5", "-1"]).0, Some(0));
    let (code, text) = check(&token, sig, &["-6", "-1"]);
    assert_eq!(code, Some(1), "-6 < -5 (unsigned, -6 would be a huge number above -5's word): {text}");
    assert!(text.contains("ArgumentConditionFailed: arg0 -6 is below the minimum -5"), "{text}");
    assert_eq!(check(&token, sig, &["7", "1"]).0, Some(1), "y = 1 is not < 0");
}

#[test]
fn values_are_parsed_per_type_and_bad_ones_refused() {
    let allow = |rule: &str| {
        format!("{TARGET}:f(address to,uint8 n,bool b,bytes4 tag,uint256[2] pair,bytes data):{rule}")
    };
    let cases = [
        ("to==0x0000000000000000000000000000000000000b0B", "wrong EIP-55 checksum"),
        ("to==0x0b0b", "0x and 40 hex digits"),
        ("n<=256", "does not fit uint8"),
        ("n<=-1", "is not a number"),
        ("n<=", "the uint8 value is missing"),
        ("n in 1|", "the uint8 value is missing"),
        ("b==1", "not a bool"),
        ("tag==0x1122", "2 bytes, the argument is bytes4"),
        ("pair<=5", "pair is a static uint256[2] parameter"),
        ("arg4==1", "pair is a static uint256[2] parameter"),
        ("data==0x12", "data is a dynamic bytes parameter; use len() or keccak()"),
        ("len(data)<=", "the number is missing"),
        ("len(to)<=3", "to is a static address parameter"),
        ("arg6==1", "no argument \"arg6\""),
    ];
    for (rule, needle) in cases {
        refused(&["--allow", &allow(rule), "--max-value", "0.01ether"], needle);
    }
    // A mistyped checksum is refused wherever an address is given.
    refused(
        &[
            "--allow",
            &format!("{TARGET}:*"),
            "--max-value",
            "1",
            "--paymaster",
            "0x000000000000000000000000000000000000BEEf",
        ],
        "wrong EIP-55 checksum",
    );
    let out = warrant_env(
        &["grant", "--account", "0x000000000000000000000000000000000000BEEf", "--module", MODULE],
        &[("WARRANT_PRIVATE_KEY", OWNER_KEY)],
    );
    assert!(stderr(&out).contains("wrong EIP-55 checksum"), "{}", stderr(&out));

    // Good values of every kind: encoded canonical, typed.
    let token = token_for(&allow(&format!("to=={BOB},n in 1|255,b==true,tag==0x11223344,len(data)<=64")));
    let scope = SignedGrant::from_token(&token).unwrap().grant.session.scope;
    let c = &scope.calls[0].conditions;
    let typed: Vec<_> = c.iter().map(|c| (arg_type::name(c.argType).unwrap(), c.argIndex)).collect();
    assert_eq!(
        typed,
        [
            ("address".into(), 0),
            ("uint8".into(), 1),
            ("bool".into(), 2),
            ("bytes4".into(), 3),
            ("dynamic".into(), 6)
        ]
    );
    assert_eq!(c[0].values[0], BOB.parse::<Address>().unwrap().into_word());
}

/// Hole 2: without a paymaster the account pays gas, so a grant must bound what the session may spend on it.
#[test]
fn gas_budgets_that_are_unbounded_or_zero_are_refused_without_the_flag() {
    let allow = format!("{TARGET}:*");
    refused(&["--allow", &allow], "the session may spend no native value");
    refused(&["--allow", &allow, "--max-value", "0"], "the session may spend no native value");
    refused(&["--allow", &allow, "--max-value", "1e39"], "the session's gas is unbounded");
    // The override is explicit, and then the scope is signed as written.
    for extra in [&["--max-value", "1e39"][..], &[][..]] {
        let mut args = vec!["--allow", allow.as_str(), "--unbounded-gas"];
        args.extend_from_slice(extra);
        let out = grant(&args);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
    }
    // Bounded: a native budget (gas included), a finite native spend limit, or a pinned paymaster.
    for extra in [
        &["--max-value", "0.01ether"][..],
        &["--spend-native", "0.01ether/1d"][..],
        &["--paymaster", "0x4000000000000000000000000000000000000004"][..],
    ] {
        let mut args = vec!["--allow", allow.as_str(), "--json"];
        args.extend_from_slice(extra);
        let out = grant(&args);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let scope = SignedGrant::from_token(v["token"].as_str().unwrap()).unwrap().grant.session.scope;
        assert!(scope.gas_budget().is_bounded_and_usable(), "{extra:?}");
    }
    // The help says loudly what the flag allows.
    let help = String::from_utf8(warrant(&["grant", "--help"]).stdout).unwrap();
    assert!(help.contains("MAY SPEND THE ACCOUNT'S WHOLE NATIVE BALANCE ON GAS"), "{help}");
    assert!(help.contains("GAS INCLUDED"), "{help}");
}
