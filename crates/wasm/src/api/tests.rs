use alloy_dyn_abi::TypedData;
use alloy_primitives::{U256, address, aliases::U48};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolError;
use warrant_core::{
    grant::{CallPolicy, Scope, WarrantErrors},
    session_op::sign_grant,
};

use super::*;

const MODULE: Address = address!("0x1111111111111111111111111111111111111111");
const ACCOUNT: Address = address!("0x2222222222222222222222222222222222222222");
const RECIPIENT: Address = address!("0x3333333333333333333333333333333333333333");
const CHAIN: u64 = 31337;

fn session(signer: Address) -> Session {
    Session {
        signer,
        salt: B256::with_last_byte(7),
        scope: Scope {
            validUntil: U48::from(2_000_000_000u64),
            maxUses: 5,
            maxValueTotal: U256::from(10u128.pow(17)),
            calls: vec![CallPolicy {
                target: RECIPIENT,
                selector: Default::default(),
                flags: 0,
                maxValue: U256::from(10u128.pow(16)),
                conditions: vec![],
            }],
            ..Default::default()
        },
    }
}

fn grant(signer: Address) -> Grant {
    Grant { account: ACCOUNT, epoch: 0, session: session(signer) }
}

fn grant_value(g: &Grant) -> Value {
    to_value(&GrantJson::from(g))
}

fn request(calls: Value) -> Value {
    json!({
        "account": ACCOUNT.to_string(),
        "module": MODULE.to_string(),
        "chainId": CHAIN.to_string(),
        "calls": calls,
        "gas": {
            "callGasLimit": "100000",
            "verificationGasLimit": "300000",
            "preVerificationGas": "50000",
            "maxFeePerGas": "2000000000",
            "maxPriorityFeePerGas": "1000000000",
        },
        "sequence": "3",
    })
}

/// The typed data the wallet gets hashes, under an independent EIP-712 implementation (alloy-dyn-abi's, as a
/// wallet's would), to the digest the account's ERC-7739 check recomputes from the envelope.
#[test]
fn typed_data_hashes_like_a_wallet() {
    let g = grant(address!("0x4444444444444444444444444444444444444444"));
    let typed = grant_typed_data(&grant_value(&g), &MODULE.to_string(), CHAIN).unwrap();
    let parsed: TypedData = serde_json::from_value(typed).unwrap();
    assert_eq!(parsed.eip712_signing_hash().unwrap(), grant_typed_data_digest(&g, MODULE, CHAIN));
    // The contents hash the envelope carries is the grant's own EIP-712 struct hash, and the app separator the
    // validator's domain: so `hash == toTypedDataHash(appSeparator, contentsHash)` is the grant digest.
    assert_eq!(
        keccak256(
            [
                &[0x19, 0x01][..],
                validator_domain(MODULE, CHAIN).separator().as_slice(),
                g.eip712_hash_struct().as_slice()
            ]
            .concat()
        ),
        g.digest(MODULE, CHAIN)
    );
}

/// Explicit mode: contentsType sorted as EIP-712 sorts referenced types, contentsName after the last `)`.
#[test]
fn contents_descr_is_explicit_mode() {
    let descr = contents_descr();
    assert!(descr.starts_with("ArgCondition("), "{descr}");
    assert!(descr.ends_with(")Grant"), "{descr}");
    assert!(descr.contains("Grant(address account,uint64 epoch,Session session)"));
    let names: Vec<String> = grant_components().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], "Grant", "the sol! encodeType puts the primary type first");
    assert_eq!(names.len(), 7);
}

#[test]
fn signed_grant_recovers_the_wallet_and_round_trips_as_a_token() {
    let owner = PrivateKeySigner::random();
    let g = grant(PrivateKeySigner::random().address());
    let digest = grant_typed_data_digest(&g, MODULE, CHAIN);
    let sig = owner.sign_hash_sync(&digest).unwrap();
    let out = signed_grant(
        &grant_value(&g),
        &MODULE.to_string(),
        CHAIN,
        &hex::encode_prefixed(sig.as_bytes()),
        &Value::Null,
    )
    .unwrap();
    assert_eq!(out["signer"], owner.address().to_checksum(None));
    assert_eq!(out["digest"], json!(digest));
    let token = encode_token(&out["signedGrant"], &Value::Null).unwrap();
    assert_eq!(out["token"], json!(token));
    let back = read_token(&token).unwrap();
    assert_eq!(back["signedGrant"], out["signedGrant"]);
    assert_eq!(back["sessionId"], json!(g.session.id(ACCOUNT)));

    // The CLI's tokens (implicit-mode envelope) read too.
    let cli = sign_grant(g.clone(), MODULE, CHAIN, &owner).unwrap().to_token().unwrap();
    assert_eq!(read_token(&format!(" {cli}\n")).unwrap()["sessionId"], json!(g.session.id(ACCOUNT)));

    let e = signed_grant(&grant_value(&g), &MODULE.to_string(), CHAIN, "0x1234", &Value::Null).unwrap_err();
    assert_eq!((e.kind, e.rule), ("input", None));
    assert!(e.message.contains("65"), "{}", e.message);
}

#[test]
fn token_errors_say_what_is_wrong() {
    let e = read_token("warrant2abc").unwrap_err();
    assert_eq!(e.kind, "token");
    assert!(e.message.contains("warrant1"), "{}", e.message);
}

#[test]
fn explain_names_the_session_key_and_the_recipient() {
    let g = grant(address!("0x4444444444444444444444444444444444444444"));
    let text = explain(&grant_value(&g), &json!({}), &Value::Null).unwrap();
    assert!(text.contains(&RECIPIENT.to_checksum(None)), "{text}");
    assert!(text.contains("0x4444444444444444444444444444444444444444"), "{text}");
    let e = explain(&json!({ "account": "0x12" }), &json!({}), &Value::Null).unwrap_err();
    assert_eq!(e.kind, "input");
}

#[test]
fn validate_grant_names_the_rule() {
    let mut g = grant(address!("0x4444444444444444444444444444444444444444"));
    g.session.scope.maxUsesPerPeriod = 1;
    let e = validate_grant(&grant_value(&g), &MODULE.to_string(), CHAIN).unwrap_err();
    assert_eq!((e.kind, e.rule), ("denial", Some("PeriodRequired")));
    let e = validate_grant(&grant_value(&grant(Address::ZERO)), &MODULE.to_string(), CHAIN).unwrap_err();
    assert_eq!((e.kind, e.rule), ("core", None));
}

/// What the page signs and sends is what the SDK's `SessionOp::sign_use` builds (same op, same signature bytes).
#[test]
fn use_op_matches_the_sdk() {
    let key = PrivateKeySigner::random();
    let s = session(key.address());
    let req = request(json!([{ "target": RECIPIENT.to_string(), "value": "1000" }]));
    let prepared = prepare_use(&req, &to_value(&SessionJson::from(&s))).unwrap();
    let digest: B256 = serde_json::from_value(prepared["digest"].clone()).unwrap();
    let sig = key.sign_hash_sync(&digest).unwrap().as_bytes();
    let op = apply_use(&req, &to_value(&SessionJson::from(&s)), &hex::encode_prefixed(sig)).unwrap();
    assert_eq!(
        estimation_use(&prepared["op"], &to_value(&SessionJson::from(&s)), 0, &hex::encode_prefixed(sig))
            .unwrap(),
        op
    );

    let sdk = session_op(&req).unwrap().sign_use(&s, &key).unwrap();
    assert_eq!(op, wire(&sdk.op));
    assert_eq!(prepared["userOpHash"], json!(sdk.hash));
}

#[test]
fn enable_op_matches_the_sdk_and_refuses_another_account() {
    let key = PrivateKeySigner::random();
    let owner = PrivateKeySigner::random();
    let signed = sign_grant(grant(key.address()), MODULE, CHAIN, &owner).unwrap();
    let signed_v = to_value(&SignedGrantJson::from(&signed));
    let req = request(json!([{ "target": RECIPIENT.to_string(), "value": "1000", "data": "0x" }]));
    let prepared = prepare_enable(&req, &signed_v).unwrap();
    let digest: B256 = serde_json::from_value(prepared["digest"].clone()).unwrap();
    let sig = key.sign_hash_sync(&digest).unwrap().as_bytes();
    let op = apply_enable(&req, &signed_v, &hex::encode_prefixed(sig)).unwrap();
    // The estimation form carries the same bytes, unchecked.
    assert_eq!(estimation_enable(&prepared["op"], &signed_v, 0, &hex::encode_prefixed(sig)).unwrap(), op);
    let other = PrivateKeySigner::random().sign_hash_sync(&digest).unwrap().as_bytes();
    let e = apply_enable(&req, &signed_v, &hex::encode_prefixed(other)).unwrap_err();
    assert_eq!(e.kind, "core", "another key's signature is refused before sending: {}", e.message);
    assert!(estimation_enable(&prepared["op"], &signed_v, 0, &hex::encode_prefixed(other)).is_ok());
    let sdk = session_op(&req).unwrap().sign_enable(&signed, &key).unwrap();
    assert_eq!(op, wire(&sdk.op));

    let mut other = req.clone();
    other["account"] = json!(RECIPIENT.to_string());
    let e = prepare_enable(&other, &signed_v).unwrap_err();
    assert_eq!(e.kind, "core");
    assert!(e.message.contains("account"), "{}", e.message);
}

fn usage(status: &str, uses: u32) -> Value {
    json!({
        "status": status, "uses": uses, "valueSpent": "0", "periodIndex": 0, "usesInPeriod": 0, "limits": [],
    })
}

#[test]
fn check_passes_in_scope_and_names_the_rule_out_of_scope() {
    let s = to_value(&SessionJson::from(&session(Address::repeat_byte(0x44))));
    let prepared =
        prepare_use(&request(json!([{ "target": RECIPIENT.to_string(), "value": "1000" }])), &s).unwrap();
    let input = |op: &Value, usage: Value| {
        json!({
            "session": s, "usage": usage, "presentation": "use", "op": op, "module": MODULE.to_string(),
            "now": 1_000_000_000u64,
        })
    };
    let debit = check(&input(&prepared["op"], usage("enabled", 1))).unwrap();
    assert_eq!(debit["usageAfter"]["uses"], 2);

    let e = check(&input(&prepared["op"], usage("none", 0))).unwrap_err();
    assert_eq!((e.kind, e.rule), ("denial", Some("SessionNotEnabled")));
    let e = check(&input(&prepared["op"], usage("enabled", 5))).unwrap_err();
    assert_eq!(e.rule, Some("UsesExhausted"));

    let stranger = prepare_use(&request(json!([{ "target": MODULE.to_string() }])), &s).unwrap();
    assert_eq!(
        check(&input(&stranger["op"], usage("enabled", 0))).unwrap_err().rule,
        Some("ForbiddenTarget")
    );
    let stranger =
        prepare_use(&request(json!([{ "target": "0x5555555555555555555555555555555555555555" }])), &s)
            .unwrap();
    let e = check(&input(&stranger["op"], usage("enabled", 0))).unwrap_err();
    assert_eq!(e.rule, Some("CallNotPermitted"));
    // The words the CLI prints (warrant_core::explain_denial).
    assert_eq!(
        e.message,
        "CallNotPermitted: a plain transfer (empty calldata) on 0x5555555555555555555555555555555555555555 matches \
         no policy of the scope"
    );

    let mut late = input(&prepared["op"], usage("enabled", 0));
    late["now"] = json!(2_000_000_001u64);
    let e = check(&late).unwrap_err();
    assert_eq!(e.rule, Some("SessionExpired"));
    assert!(e.message.ends_with("; it is 2033-05-18T03:33:21Z now"), "dates, not seconds: {}", e.message);
}

#[test]
fn remaining_counts_down() {
    let s = to_value(&SessionJson::from(&session(Address::repeat_byte(0x44))));
    let mut u = usage("enabled", 2);
    u["valueSpent"] = json!("1000");
    let r = remaining(&s, &u, 1_999_999_000).unwrap();
    assert_eq!(r["uses"], 3);
    assert_eq!(r["value"], (U256::from(10u128.pow(17)) - U256::from(1000)).to_string());
    assert_eq!(r["secondsLeft"], 1000);
}

#[test]
fn chain_reads_encode_and_decode() {
    let n = nonce_call(&ACCOUNT.to_string(), &MODULE.to_string(), "warrant", 0).unwrap();
    assert_eq!(n["to"], ENTRY_POINT_V08.to_checksum(None));
    let nonce: U256 = (U256::from(0xabcdu64) << 64) | U256::from(9u64);
    assert_eq!(decode_sequence(&hex::encode_prefixed(nonce.abi_encode())).unwrap(), "9");
    assert_eq!(nonce_call("0x1", "0x2", "warrant", 0).unwrap_err().kind, "input");

    let s = session(Address::repeat_byte(0x44));
    let calls =
        usage_calls(&ACCOUNT.to_string(), &MODULE.to_string(), &to_value(&SessionJson::from(&s))).unwrap();
    assert_eq!(calls.as_array().unwrap().len(), 2, "no spend limits: sessionState and periodState");
    let state = (U256::from(1), U256::from(2), U256::from(300)).abi_encode_params();
    let period = (U256::ZERO, U256::ZERO).abi_encode_params();
    let u = decode_usage(&json!([hex::encode_prefixed(state), hex::encode_prefixed(period)])).unwrap();
    assert_eq!(
        (u["status"].clone(), u["uses"].clone(), u["valueSpent"].clone()),
        (json!("enabled"), json!(2), json!("300"))
    );
    let bad = (U256::from(7), U256::from(2), U256::from(300)).abi_encode_params();
    let period = (U256::ZERO, U256::ZERO).abi_encode_params();
    assert!(decode_usage(&json!([hex::encode_prefixed(bad), hex::encode_prefixed(period)])).is_err());
}

/// Alto's refusal of an out-of-scope op: the EntryPoint's `FailedOpWithRevert` around the validator's error, hex
/// in the message; the rule comes back by name.
#[test]
fn bundler_refusals_name_the_rule() {
    let inner = WarrantErrors::CallNotPermitted {
        index: U256::ZERO,
        target: RECIPIENT,
        selector: Default::default(),
    }
    .abi_encode();
    let failed = IEntryPoint::FailedOpWithRevert {
        opIndex: U256::ZERO,
        reason: "AA23 reverted".into(),
        inner: inner.into(),
    }
    .abi_encode();
    let error = json!({ "code": -32500, "message": format!("UserOperation reverted during simulation with reason: {}", hex::encode_prefixed(&failed)) });
    let r = bundler_refusal(&error);
    assert_eq!(r["rule"], "CallNotPermitted");
    assert_eq!(r["code"], -32500);
    let plain = bundler_refusal(&json!({ "code": -32602, "message": "invalid fields" }));
    assert_eq!(plain["rule"], Value::Null);
}

/// A WebCrypto P-256 key as the page uses it: the browser signs the digest as data (SHA-256 applied on top) and
/// returns `r ‖ s`, possibly with a high s. The package's session signature is the SDK's own (`sign_use_p256`),
/// low s, and the operation passes the validator's signer check.
#[test]
fn webcrypto_p256_signature_matches_the_sdk() {
    use p256::ecdsa::{Signature, SigningKey, signature::hazmat::PrehashSigner};
    use sha2::{Digest, Sha256};
    use warrant_core::p256::{P256_N, P256Signer};

    let secret = keccak256("a WebCrypto key");
    let sdk_key = P256Signer::from_bytes(P256Kind::WebCrypto, &secret.0).unwrap();
    let public = Bytes::copy_from_slice(&sdk_key.key().to_uncompressed());
    let signer = p256_signer(2, &public.to_string()).unwrap();
    assert_eq!(signer, sdk_key.signer());
    assert_ne!(p256_signer(1, &public.to_string()).unwrap(), signer, "the kind is part of the identifier");

    let s = session(signer);
    let session_v = to_value(&SessionJson::from(&s));
    let req = request(json!([{ "target": RECIPIENT.to_string(), "value": "1000" }]));
    let prepared = prepare_use(&req, &session_v).unwrap();
    let digest: B256 = serde_json::from_value(prepared["digest"].clone()).unwrap();
    // What crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, digest) computes.
    let browser = SigningKey::from_bytes((&secret.0).into()).unwrap();
    let sig: Signature = browser.sign_prehash(&Sha256::digest(digest.as_slice())).unwrap();
    let (r, low_s) = sig.split_bytes();
    let high_s = P256_N - U256::from_be_slice(&low_s);
    for s_bytes in [U256::from_be_slice(&low_s), high_s] {
        let rs = [&r[..], &s_bytes.to_be_bytes::<32>()].concat();
        let session_sig = p256_session_signature(2, &public.to_string(), &hex::encode_prefixed(&rs)).unwrap();
        assert_eq!(session_sig.len(), 129);
        let op = apply_use(&req, &session_v, &session_sig.to_string()).unwrap();
        let sdk = session_op(&req).unwrap().sign_use_p256(&s, &sdk_key).unwrap();
        assert_eq!(op, wire(&sdk.op), "the same bytes as the SDK's P-256 signing, s normalised low");
    }
    let e = p256_session_signature(2, &public.to_string(), "0x1234").unwrap_err();
    assert_eq!(e.kind, "input");
    let e = p256_signer(3, &public.to_string()).unwrap_err();
    assert!(e.message.contains("kind 3"), "{}", e.message);
    let e = p256_signer(2, "0x0400").unwrap_err();
    assert_eq!(e.kind, "core");
}

/// The token of a grant to a P-256 key carries the key (version 4), and reads back with it.
#[test]
fn p256_grant_token_carries_the_key() {
    use warrant_core::p256::P256Signer;
    let key = P256Signer::from_bytes(P256Kind::WebCrypto, &keccak256("k").0).unwrap();
    let public = Bytes::copy_from_slice(&key.key().to_uncompressed());
    let session_key = json!({ "kind": 2, "publicKey": public });
    let owner = PrivateKeySigner::random();
    let g = grant(key.signer());
    let sig = owner.sign_hash_sync(&grant_typed_data_digest(&g, MODULE, CHAIN)).unwrap();
    let out = signed_grant(
        &grant_value(&g),
        &MODULE.to_string(),
        CHAIN,
        &hex::encode_prefixed(sig.as_bytes()),
        &session_key,
    )
    .unwrap();
    let back = read_token(out["token"].as_str().unwrap()).unwrap();
    assert_eq!(back["sessionKey"], session_key);
    assert!(
        explain(&grant_value(&g), &json!({}), &session_key)
            .unwrap()
            .contains("P-256 (WebCrypto) session key")
    );
    // A key that is not the session's signer is refused.
    let other = json!({ "kind": 1, "publicKey": public });
    let e = encode_token(&out["signedGrant"], &other).unwrap_err();
    assert_eq!(e.kind, "token");
}
