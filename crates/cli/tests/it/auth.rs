//! `warrant auth sign|recover`, checked against Trust Wallet Core's published EIP-7702 vector.

use crate::warrant;

const KEY: &str = "0x947dd69af402e7f48da1b845dfc1df6be593d01a0d8274bd03ec56712e7164e8";
const DELEGATE: &str = "0xB91aaa96B138A1B1D94c9df4628187132c5F2bf1";
const AUTHORITY: &str = "0x174a240e5147D02dE4d7724D5D3E1c1bF11cE029";
const R: &str = "0x2c39f2f64441dd38c364ee175dc6b9a87f34ca330bce968f6c8e22811e3bb710";
const S: &str = "0x5f1bcde93dee4b214e60bc0e63babcc13e4fecb8a23c4098fd89844762aa012c";
/// secp256k1's group order n; n - s is the malleable twin of a low s.
const N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

fn sign_json(extra: &[&str]) -> std::process::Output {
    let mut args =
        vec!["auth", "sign", "--private-key", KEY, "--chain-id", "1", "--address", DELEGATE, "--nonce", "1"];
    args.extend_from_slice(extra);
    warrant(&args)
}

#[test]
fn sign_matches_the_published_vector() {
    let out = sign_json(&["--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["chainId"], "0x1");
    assert_eq!(v["nonce"], "0x1");
    assert_eq!(v["yParity"], "0x1");
    assert_eq!(v["r"], R);
    assert_eq!(v["s"], S);
    assert_eq!(v["authority"], AUTHORITY);
}

#[test]
fn recover_reads_json_and_rlp() {
    let json = String::from_utf8(sign_json(&["--json"]).stdout).unwrap();
    let out = warrant(&["auth", "recover", &json, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["authority"], AUTHORITY);

    let human = String::from_utf8(sign_json(&[]).stdout).unwrap();
    let rlp = human.lines().find_map(|l| l.strip_prefix("rlp")).unwrap().trim().to_owned();
    let out = warrant(&["auth", "recover", &rlp]);
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout).unwrap().contains(AUTHORITY));
}

#[test]
fn chain_id_zero_needs_any_chain() {
    let args =
        ["auth", "sign", "--private-key", KEY, "--chain-id", "0", "--address", DELEGATE, "--nonce", "1"];
    let out = warrant(&args);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--any-chain"));
    let mut with_flag = args.to_vec();
    with_flag.push("--any-chain");
    assert!(warrant(&with_flag).status.success());
}

#[test]
fn high_s_is_refused() {
    let n = alloy::primitives::U256::from_str_radix(N, 16).unwrap();
    let s = alloy::primitives::U256::from_str_radix(&S[2..], 16).unwrap();
    let high = format!(
        r#"{{"chainId":"0x1","address":"{DELEGATE}","nonce":"0x1","yParity":"0x0","r":"{R}","s":"{:#x}"}}"#,
        n - s
    );
    let out = warrant(&["auth", "recover", &high]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("high s"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn malformed_input_is_named() {
    for (args, needle) in [
        (vec!["auth", "recover", "0xzz"], "neither JSON nor hex RLP"),
        (vec!["auth", "recover", "0xc0"], "invalid EIP-7702 authorization"),
        (vec!["auth", "recover", "{\"chainId\":1}"], "authorization JSON"),
        (
            vec![
                "auth",
                "sign",
                "--private-key",
                "0x12",
                "--chain-id",
                "1",
                "--address",
                DELEGATE,
                "--nonce",
                "1",
            ],
            "private key must be 32 bytes",
        ),
        (
            vec![
                "auth",
                "sign",
                "--private-key",
                "0x",
                "--chain-id",
                "1",
                "--address",
                DELEGATE,
                "--nonce",
                "1",
            ],
            "private key",
        ),
    ] {
        let out = warrant(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains(&KEY[2..]), "no key material in errors");
    }
}

/// `auth sign --key NAME` signs with a keystore key, as every other command takes one: the same vector as
/// the raw key gives, with no secret on the command line.
#[test]
fn sign_with_a_keystore_key() {
    let dir = tempfile::tempdir().unwrap();
    let ks = dir.path().to_str().unwrap();
    let env = [("WARRANT_PASSWORD", "auth pw")];
    let out = crate::warrant_detached(&["key", "import", "eoa", "--keystore", ks], &env, KEY.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sign = ["auth", "sign", "--key", "eoa", "--keystore", ks, "--chain-id", "1", "--address", DELEGATE];
    let out = crate::warrant_detached(&[&sign[..], &["--nonce", "1", "--json"]].concat(), &env, b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["r"].as_str(), v["s"].as_str()), (Some(R), Some(S)));
    assert_eq!(v["authority"], AUTHORITY);
    // A wrong password is the keystore's refusal, not a signature.
    let out =
        crate::warrant_detached(&[&sign[..], &["--nonce", "1"]].concat(), &[("WARRANT_PASSWORD", "no")], b"");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    // No key at all names the ways to give one.
    let out = crate::warrant(&["auth", "sign", "--chain-id", "1", "--address", DELEGATE, "--nonce", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pass --key NAME"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
