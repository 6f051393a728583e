//! ERC-7715 requests: vectors in the shapes of the ERC's examples and MetaMask's types (written here, not
//! copied), translated into scopes and back, and every refusal naming its type or field.

use alloy_primitives::{Address, B256, Bytes, FixedBytes, U256, address, aliases::U48};
use proptest::prelude::*;
use serde_json::{Value, json};
use warrant_core::{
    SignedGrant,
    erc7715::{
        Asset, Budget, Erc7715Error, GasTerms, GrantTerms, PERMISSION_TYPES, PermissionRequest,
        PermissionResponse, Rule, Support, context_of, grant_from_context, permission_type,
        request_from_grant, supported_permissions, translate,
    },
    explain::explain_scope,
    grant::{ANY_TARGET, NO_CAP, Scope, SpendLimit, arg_type},
    policy::condition,
    sign_grant,
};

use crate::support::Key;

const TOKEN: Address = address!("0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238");
const PAYEE: Address = address!("0x2222222222222222222222222222222222222222");
const PAYEE2: Address = address!("0x3333333333333333333333333333333333333333");
const MODULE: Address = address!("0x5555555555555555555555555555555555555555");
const PAYMASTER: Address = address!("0x6666666666666666666666666666666666666666");
const NOW: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: u64 = 86_400;

fn account() -> Address {
    Key::from_seed("erc7715 owner").address()
}

fn session() -> Address {
    Key::from_seed("erc7715 session").address()
}

fn hex_addr(a: Address) -> String {
    a.to_checksum(None)
}

/// The address with the case of its first letter flipped: mixed case, wrong EIP-55 checksum.
fn bad_checksum(a: Address) -> String {
    let s = hex_addr(a);
    let i = s[2..].find(|c: char| c.is_ascii_alphabetic()).expect("a letter") + 2;
    let c = s.as_bytes()[i] as char;
    let flipped = if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() };
    format!("{}{flipped}{}", &s[..i], &s[i + 1..])
}

fn terms(gas: GasTerms) -> GrantTerms {
    GrantTerms { now: NOW, account: None, gas, max_gas_limit: 0, max_fee_per_gas: 0 }
}

/// The account pays gas out of a native permission's own limit (no cap of its own).
fn native_pays() -> GrantTerms {
    terms(GasTerms::AccountPays { max_value_total: U256::MAX })
}

/// The gas terms for `r`: a budget for an ERC-20 permission, the permission's own limit for a native one.
fn pays_for(r: &PermissionRequest) -> GrantTerms {
    match r.permission.asset {
        Asset::Native => native_pays(),
        Asset::Erc20(_) => pays(10u128.pow(15)),
    }
}

fn pays(wei: u128) -> GrantTerms {
    terms(GasTerms::AccountPays { max_value_total: U256::from(wei) })
}

/// What MetaMask's kit sends for an ERC-20 subscription: hex chain id and amount, numbers for times.
fn erc20_periodic() -> Value {
    json!({
        "chainId": "0xaa36a7",
        "from": hex_addr(account()),
        "to": hex_addr(session()),
        "permission": {
            "type": "erc20-token-periodic",
            "isAdjustmentAllowed": false,
            "data": {
                "tokenAddress": hex_addr(TOKEN),
                "periodAmount": "0x989680",
                "periodDuration": DAY,
                "startTime": NOW,
                "justification": "10 USDC a day for the newsletter"
            }
        },
        "rules": [{ "type": "expiry", "data": { "timestamp": NOW + 30 * DAY } }]
    })
}

fn parse(v: &Value) -> PermissionRequest {
    PermissionRequest::from_json(v).unwrap_or_else(|e| panic!("{e}"))
}

fn error(v: &Value, t: &GrantTerms) -> Erc7715Error {
    match PermissionRequest::from_json(v) {
        Err(e) => e,
        Ok(r) => translate(&r, t).expect_err("refused"),
    }
}

/// Sets `path` (dotted keys, `[i]` for rules) in `v`.
fn with(mut v: Value, path: &[&str], value: Value) -> Value {
    let mut at = &mut v;
    for key in &path[..path.len() - 1] {
        at = match key.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[*key],
        };
    }
    at[path[path.len() - 1]] = value;
    v
}

fn without(mut v: Value, path: &[&str]) -> Value {
    let mut at = &mut v;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at.as_object_mut().unwrap().remove(path[path.len() - 1]);
    v
}

fn field_of(e: &Erc7715Error) -> &str {
    match e {
        Erc7715Error::Invalid { field, .. }
        | Erc7715Error::RefusedType { field, .. }
        | Erc7715Error::UnknownType { field, .. }
        | Erc7715Error::RefusedRule { field, .. } => field,
        Erc7715Error::NotAPermission(_) => "",
    }
}

#[test]
fn erc20_periodic_translates_to_a_daily_token_limit_on_transfer_only() {
    let t = translate(&parse(&erc20_periodic()), &pays(10u128.pow(16))).unwrap();
    assert_eq!((t.chain_id, t.account, t.session_key), (11_155_111, account(), session()));
    let s = &t.scope;
    assert_eq!(s.period, 86_400);
    assert_eq!(s.periodStart, U48::from(NOW));
    assert_eq!(s.limits, vec![SpendLimit { token: TOKEN, perPeriod: 10_000_000, lifetime: NO_CAP }]);
    assert_eq!(s.calls.len(), 1);
    let p = &s.calls[0];
    assert_eq!(
        (p.target, p.selector, p.flags, p.maxValue),
        (TOKEN, FixedBytes([0xa9, 0x05, 0x9c, 0xbb]), 0, U256::ZERO)
    );
    assert!(p.conditions.is_empty());
    assert_eq!(s.validUntil, U48::from(NOW + 30 * DAY - 1), "invalid from the expiry timestamp on");
    assert_eq!((s.validAfter, s.maxUses, s.maxUsesPerPeriod), (U48::ZERO, 0, 0));
    assert_eq!(s.maxValueTotal, U256::from(10u128.pow(16)), "the gas budget: the only native value");
    assert_eq!(s.paymaster, Address::ZERO);
    s.validate().unwrap();
    let words = explain_scope(s, &Default::default());
    assert!(words.contains("may move at most 10000000 (raw; token decimals unknown) per 1 day"), "{words}");
    assert!(words.contains("gas: paid by the account"), "{words}");
}

#[test]
fn sponsored_gas_moves_no_native_value() {
    let t =
        translate(&parse(&erc20_periodic()), &terms(GasTerms::Sponsored { paymaster: PAYMASTER })).unwrap();
    assert_eq!((t.scope.paymaster, t.scope.maxValueTotal), (PAYMASTER, U256::ZERO));
    let native = json!({
        "chainId": "0x1", "from": hex_addr(account()), "to": hex_addr(session()),
        "permission": { "type": "native-token-periodic", "isAdjustmentAllowed": true,
                        "data": { "periodAmount": "0xde0b6b3a7640000", "periodDuration": 604800 } }
    });
    let t = translate(&parse(&native), &terms(GasTerms::Sponsored { paymaster: PAYMASTER })).unwrap();
    assert_eq!(t.scope.maxValueTotal, U256::MAX, "the native limit governs");
    assert_eq!(t.scope.limits[0].perPeriod, 10u128.pow(18));
}

#[test]
fn native_periodic_without_start_time_starts_now_and_allows_plain_transfers_anywhere() {
    let v = json!({
        "chainId": "0x1", "from": hex_addr(account()), "to": hex_addr(session()),
        "permission": { "type": "native-token-periodic", "isAdjustmentAllowed": true,
                        "data": { "periodAmount": "0x38d7ea4c68000", "periodDuration": 3600, "startTime": null } },
        "rules": null
    });
    let t = translate(&parse(&v), &native_pays()).unwrap();
    assert_eq!(t.scope.periodStart, U48::from(NOW));
    assert_eq!(
        t.scope.limits,
        vec![SpendLimit { token: Address::ZERO, perPeriod: 10u128.pow(15), lifetime: NO_CAP }]
    );
    let p = &t.scope.calls[0];
    assert_eq!((p.flags, p.selector, p.maxValue), (ANY_TARGET, FixedBytes::ZERO, U256::from(10u128.pow(15))));
    assert_eq!(t.scope.validUntil, U48::ZERO, "no expiry rule, no expiry");
    let Budget::Periodic { start_time, .. } = t.request.permission.budget else { panic!() };
    assert_eq!(start_time, Some(NOW), "the granted request says when period 0 began");
    let words = explain_scope(&t.scope, &Default::default());
    assert!(words.contains("may move at most 0.001 ETH (raw 1000000000000000 wei) per 1 hour"), "{words}");
    assert!(words.contains("NO EXPIRY"), "{words}");
}

/// The ERC's own example: `native-token-allowance` with `allowance` (MetaMask: `allowanceAmount`), chain "0x01".
#[test]
fn the_ercs_allowance_example_shape_is_a_lifetime_limit() {
    let v = json!({
        "chainId": "0x01", "from": hex_addr(account()), "to": hex_addr(session()),
        "permission": { "type": "native-token-allowance", "isAdjustmentAllowed": false,
                        "data": { "allowance": "0x1DCD6500" } },
        "rules": [{ "type": "expiry", "data": { "timestamp": NOW + 3600 } }]
    });
    let t = translate(&parse(&v), &native_pays()).unwrap();
    assert_eq!(t.chain_id, 1);
    assert_eq!(t.scope.period, 0);
    assert_eq!(
        t.scope.limits,
        vec![SpendLimit { token: Address::ZERO, perPeriod: NO_CAP, lifetime: 500_000_000 }]
    );
    assert_eq!(t.scope.validUntil, U48::from(NOW + 3599));
    let both = with(v.clone(), &["permission", "data", "allowanceAmount"], json!("0x1"));
    assert_eq!(field_of(&error(&both, &pays(1))), "permission.data.allowance");
}

#[test]
fn allowance_start_time_opens_the_window_at_that_second() {
    let v = json!({
        "chainId": "0x1", "from": hex_addr(account()), "to": hex_addr(session()),
        "permission": { "type": "erc20-token-allowance", "isAdjustmentAllowed": false,
                        "data": { "tokenAddress": hex_addr(TOKEN), "allowanceAmount": "0x64", "startTime": NOW + DAY } },
        "rules": [
            { "type": "payee", "data": { "addresses": [hex_addr(PAYEE), hex_addr(PAYEE2)] } },
            { "type": "redeemer", "data": { "addresses": [hex_addr(session())] } }
        ]
    });
    let t = translate(&parse(&v), &pays(10u128.pow(15))).unwrap();
    assert_eq!(t.scope.validAfter, U48::from(NOW + DAY - 1), "v0.8 accepts timestamp > validAfter");
    assert_eq!(t.scope.limits[0].lifetime, 100);
    let c = &t.scope.calls[0].conditions;
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].condition, c[0].argType, c[0].argIndex), (condition::IN, arg_type::ADDRESS, 0));
    assert_eq!(c[0].values, vec![PAYEE.into_word(), PAYEE2.into_word()]);
    let words = explain_scope(&t.scope, &Default::default());
    assert!(words.contains("may move at most 100 (raw; token decimals unknown) over the session"), "{words}");
}

#[test]
fn native_payees_are_one_plain_transfer_policy_each() {
    let v = with(
        json!({
            "chainId": "0x1", "from": hex_addr(account()), "to": hex_addr(session()),
            "permission": { "type": "native-token-periodic", "isAdjustmentAllowed": false,
                            "data": { "periodAmount": "0x10", "periodDuration": 60, "startTime": NOW } }
        }),
        &["rules"],
        json!([{ "type": "payee", "data": { "addresses": [hex_addr(PAYEE), hex_addr(PAYEE2)] } }]),
    );
    let t = translate(&parse(&v), &native_pays()).unwrap();
    let targets: Vec<_> = t.scope.calls.iter().map(|p| (p.target, p.flags, p.selector, p.maxValue)).collect();
    assert_eq!(
        targets,
        vec![(PAYEE, 0, FixedBytes::ZERO, U256::from(16)), (PAYEE2, 0, FixedBytes::ZERO, U256::from(16))]
    );
    let me = with(v, &["rules", "0", "data", "addresses"], json!([hex_addr(account())]));
    assert_eq!(field_of(&error(&me, &pays(1))), "rules[0].data.addresses");
}

/// The legacy `wallet_grantPermissions` shape of the ERC's 2024-25 text: number chain id, top-level expiry, an
/// account signer, a `permissions` array with the legacy type names.
#[test]
fn legacy_shape_reads_as_the_current_one() {
    let legacy = json!({
        "chainId": 8453,
        "address": hex_addr(account()),
        "expiry": NOW + 7 * DAY,
        "signer": { "type": "account", "data": { "address": hex_addr(session()) } },
        "permissions": [{ "type": "erc20-token-transfer", "data": { "address": hex_addr(TOKEN), "allowance": "0x3e8" } }]
    });
    let r = parse(&legacy);
    assert_eq!((r.chain_id, r.from, r.to), (8453, Some(account()), session()));
    assert_eq!(r.permission.type_name(), "erc20-token-allowance");
    assert_eq!(r.rules, vec![Rule::Expiry { timestamp: NOW + 7 * DAY }]);
    let current = json!({
        "chainId": "0x2105", "from": hex_addr(account()), "to": hex_addr(session()),
        "permission": { "type": "erc20-token-allowance", "isAdjustmentAllowed": false,
                        "data": { "tokenAddress": hex_addr(TOKEN), "allowanceAmount": "0x3e8" } },
        "rules": [{ "type": "expiry", "data": { "timestamp": NOW + 7 * DAY } }]
    });
    assert_eq!(r, parse(&current));
    let t = pays(10u128.pow(15));
    assert_eq!(translate(&r, &t).unwrap().scope, translate(&parse(&current), &t).unwrap().scope);

    // Current type names inside the legacy envelope too.
    let periodic = with(
        legacy.clone(),
        &["permissions"],
        json!([{ "type": "native-token-periodic", "data": { "periodAmount": "0x1", "periodDuration": 60 } }]),
    );
    assert_eq!(parse(&periodic).permission.type_name(), "native-token-periodic");

    let two =
        with(legacy.clone(), &["permissions"], json!([legacy["permissions"][0], legacy["permissions"][0]]));
    assert_eq!(field_of(&error(&two, &t)), "permissions");
    let wallet = with(legacy.clone(), &["signer"], json!({ "type": "wallet", "data": {} }));
    assert_eq!(field_of(&error(&wallet, &t)), "signer.type");
    let policies =
        with(legacy.clone(), &["policies"], json!([{ "type": "gas-limit", "data": { "limit": "0x1" } }]));
    assert_eq!(field_of(&error(&policies, &t)), "policies");
    assert!(PermissionRequest::from_json(&with(legacy.clone(), &["policies"], json!([]))).is_ok());
    let gas = with(legacy, &["permissions"], json!([{ "type": "gas-limit", "data": { "limit": "0x1" } }]));
    assert!(matches!(error(&gas, &t), Erc7715Error::UnknownType { ty, .. } if ty == "gas-limit"));
}

#[test]
fn streams_and_revocations_are_refused_by_type_with_the_reason() {
    let stream = json!({
        "chainId": "0x1", "to": hex_addr(session()),
        "permission": { "type": "erc20-token-stream", "isAdjustmentAllowed": true,
                        "data": { "tokenAddress": hex_addr(TOKEN), "amountPerSecond": "0x1", "initialAmount": "0x10",
                                  "maxAmount": "0x100", "startTime": NOW } }
    });
    for ty in ["erc20-token-stream", "native-token-stream"] {
        let e = error(&with(stream.clone(), &["permission", "type"], json!(ty)), &pays(1));
        let Erc7715Error::RefusedType { field, ty: named, reason } = &e else { panic!("{e}") };
        assert_eq!((field.as_str(), named.as_str()), ("permission.type", ty));
        assert!(reason.contains("amountPerSecond") && reason.contains("approximation"), "{reason}");
        assert!(e.to_string().contains(ty), "{e}");
    }
    let revoke = json!({
        "chainId": "0x1", "to": hex_addr(session()),
        "permission": { "type": "token-approval-revocation", "isAdjustmentAllowed": false,
                        "data": { "erc20Approve": true, "erc721Approve": false, "erc721SetApprovalForAll": true,
                                  "permit2Approve": false, "permit2Lockdown": false, "permit2InvalidateNonces": false } }
    });
    for ty in ["token-approval-revocation", "erc20-token-revocation"] {
        let e = error(&with(revoke.clone(), &["permission", "type"], json!(ty)), &pays(1));
        let Erc7715Error::RefusedType { reason, .. } = &e else { panic!("{e}") };
        assert!(reason.contains("token id 0"), "{reason}");
    }
    let e = error(&with(revoke, &["permission", "type"], json!("erc721-token-transfer")), &pays(1));
    assert!(matches!(&e, Erc7715Error::UnknownType { ty, .. } if ty == "erc721-token-transfer"), "{e}");
    assert!(e.to_string().contains("erc20-token-periodic"), "lists what is translated: {e}");
}

/// Every malformed field is refused with its path.
#[test]
fn garbage_is_refused_naming_the_field() {
    let v = erc20_periodic();
    let t = pays(10u128.pow(15));
    let cases: Vec<(Value, &str)> = vec![
        (
            with(v.clone(), &["permission", "data", "periodAmont"], json!("0x1")),
            "permission.data.periodAmont",
        ),
        (with(v.clone(), &["sender"], json!("x")), "sender"),
        (with(v.clone(), &["permission", "extra"], json!(1)), "permission.extra"),
        (
            with(v.clone(), &["permission", "data", "periodAmount"], json!(1000)),
            "permission.data.periodAmount",
        ),
        (
            with(v.clone(), &["permission", "data", "periodAmount"], json!("1000")),
            "permission.data.periodAmount",
        ),
        (
            with(v.clone(), &["permission", "data", "periodAmount"], json!("0xzz")),
            "permission.data.periodAmount",
        ),
        (
            with(v.clone(), &["permission", "data", "periodAmount"], json!("0x")),
            "permission.data.periodAmount",
        ),
        (
            with(v.clone(), &["permission", "data", "periodAmount"], json!("0x0")),
            "permission.data.periodAmount",
        ),
        (
            with(
                v.clone(),
                &["permission", "data", "periodAmount"],
                json!(format!("{:#x}", U256::from(1u128 << 112))),
            ),
            "permission.data.periodAmount",
        ),
        (
            with(v.clone(), &["permission", "data", "periodAmount"], json!(format!("0x1{}", "0".repeat(64)))),
            "permission.data.periodAmount",
        ),
        (
            with(v.clone(), &["permission", "data", "periodDuration"], json!(0)),
            "permission.data.periodDuration",
        ),
        (
            with(v.clone(), &["permission", "data", "periodDuration"], json!("86400")),
            "permission.data.periodDuration",
        ),
        (
            with(v.clone(), &["permission", "data", "periodDuration"], json!(1u64 << 32)),
            "permission.data.periodDuration",
        ),
        (
            with(v.clone(), &["permission", "data", "periodDuration"], json!(1.5)),
            "permission.data.periodDuration",
        ),
        (with(v.clone(), &["permission", "data", "startTime"], json!(-1)), "permission.data.startTime"),
        (with(v.clone(), &["permission", "data", "startTime"], json!(0)), "permission.data.startTime"),
        (
            with(v.clone(), &["permission", "data", "startTime"], json!(1u64 << 48)),
            "permission.data.startTime",
        ),
        (
            with(v.clone(), &["permission", "data", "tokenAddress"], json!("0x1234")),
            "permission.data.tokenAddress",
        ),
        (
            with(v.clone(), &["permission", "data", "tokenAddress"], json!(format!("0x{}", "0".repeat(40)))),
            "permission.data.tokenAddress",
        ),
        (
            with(v.clone(), &["permission", "data", "tokenAddress"], json!(hex_addr(account()))),
            "permission.data.tokenAddress",
        ),
        (
            with(v.clone(), &["permission", "data", "justification"], json!(7)),
            "permission.data.justification",
        ),
        (without(v.clone(), &["permission", "isAdjustmentAllowed"]), "permission.isAdjustmentAllowed"),
        (
            with(v.clone(), &["permission", "isAdjustmentAllowed"], json!("no")),
            "permission.isAdjustmentAllowed",
        ),
        (without(v.clone(), &["permission", "data", "tokenAddress"]), "permission.data.tokenAddress"),
        (without(v.clone(), &["to"]), "to"),
        (with(v.clone(), &["chainId"], json!("0x0")), "chainId"),
        (with(v.clone(), &["chainId"], json!("sepolia")), "chainId"),
        (with(v.clone(), &["chainId"], json!(format!("0x1{}", "0".repeat(16)))), "chainId"),
        (with(v.clone(), &["to"], json!(bad_checksum(session()))), "to"),
        (with(v.clone(), &["to"], json!(hex_addr(account()))), "to"),
        (with(v.clone(), &["to"], json!(format!("0x{}", "0".repeat(40)))), "to"),
        (with(v.clone(), &["rules"], json!({})), "rules"),
        (with(v.clone(), &["rules", "0", "data", "timestamp"], json!(NOW)), "rules[0].data.timestamp"),
        (with(v.clone(), &["rules", "0", "data", "timestamp"], json!("soon")), "rules[0].data.timestamp"),
        (with(v.clone(), &["rules", "0", "data", "when"], json!(1)), "rules[0].data.when"),
        (with(v.clone(), &["rules", "0", "type"], json!("rate-limit")), "rules[0].type"),
        (with(v.clone(), &["rules"], json!([v["rules"][0], v["rules"][0]])), "rules[1]"),
        (
            with(v.clone(), &["rules"], json!([{ "type": "payee", "data": { "addresses": [] } }])),
            "rules[0].data.addresses",
        ),
        (
            with(
                v.clone(),
                &["rules"],
                json!([{ "type": "payee", "data": { "addresses": [hex_addr(PAYEE), hex_addr(PAYEE)] } }]),
            ),
            "rules[0].data.addresses[1]",
        ),
        (
            with(
                v.clone(),
                &["rules"],
                json!([{ "type": "redeemer", "data": { "addresses": [hex_addr(PAYEE)] } }]),
            ),
            "rules[0].data.addresses",
        ),
        (
            with(
                v.clone(),
                &["rules"],
                json!([{ "type": "redeemer", "data": { "addresses": [hex_addr(session()), hex_addr(PAYEE)] } }]),
            ),
            "rules[0].data.addresses",
        ),
        (with(v.clone(), &["from"], json!(hex_addr(PAYEE))), "from"),
        (Value::String("x".into()), "request"),
    ];
    for (case, field) in cases {
        let e = match PermissionRequest::from_json(&case) {
            Err(e) => e,
            Ok(r) => translate(&r, &GrantTerms { account: Some(account()), ..t }).expect_err(field),
        };
        assert_eq!(field_of(&e), field, "{e}");
        assert!(e.to_string().starts_with(field), "{e}");
    }
}

#[test]
fn the_account_comes_from_the_request_or_the_terms() {
    let v = without(erc20_periodic(), &["from"]);
    let r = parse(&v);
    assert_eq!(field_of(&translate(&r, &pays(1)).unwrap_err()), "from");
    let t = translate(&r, &GrantTerms { account: Some(account()), ..pays(1) }).unwrap();
    assert_eq!((t.account, t.request.from), (account(), Some(account())));
}

#[test]
fn gas_must_be_bounded_and_payable() {
    let r = parse(&erc20_periodic());
    for t in [pays(0), terms(GasTerms::AccountPays { max_value_total: U256::MAX })] {
        assert_eq!(field_of(&translate(&r, &t).unwrap_err()), "gas.maxValueTotal");
    }
    let native = with(erc20_periodic(), &["permission", "type"], json!("native-token-periodic"));
    let native = parse(&without(native, &["permission", "data", "tokenAddress"]));
    assert_eq!(field_of(&translate(&native, &pays(10u128.pow(18))).unwrap_err()), "gas.maxValueTotal");
    assert!(translate(&native, &pays(u128::MAX)).is_err(), "u128::MAX is a cap; only U256::MAX means none");
    translate(&native, &terms(GasTerms::AccountPays { max_value_total: U256::MAX })).unwrap();
    let e = translate(&r, &terms(GasTerms::Sponsored { paymaster: Address::ZERO })).unwrap_err();
    assert_eq!(field_of(&e), "gas.paymaster");
    let t = translate(&r, &GrantTerms { max_gas_limit: 500_000, max_fee_per_gas: 30_000_000_000, ..pays(1) })
        .unwrap();
    assert_eq!((t.scope.maxGasLimit, t.scope.maxFeePerGas), (500_000, 30_000_000_000));
}

/// The same table answers `wallet_getSupportedExecutionPermissions` and decides what translates.
#[test]
fn supported_permissions_are_exactly_the_translated_types() {
    let s = supported_permissions(&[1, 11_155_111]);
    let map = s.as_object().unwrap();
    let exact: Vec<&str> = PERMISSION_TYPES
        .iter()
        .filter(|t| matches!(t.support, Support::Exact { .. }))
        .map(|t| t.name)
        .collect();
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort();
    let mut sorted = exact.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(
        sorted,
        ["erc20-token-allowance", "erc20-token-periodic", "native-token-allowance", "native-token-periodic"]
    );
    for (_, info) in map {
        assert_eq!(
            info,
            &json!({ "chainIds": ["0x1", "0xaa36a7"], "ruleTypes": ["expiry", "payee", "redeemer"] })
        );
    }
    // Every listed type translates, with every listed rule; every other known type is refused by type.
    for t in PERMISSION_TYPES {
        let data = match t.name {
            "native-token-periodic" => json!({ "periodAmount": "0x5", "periodDuration": 60 }),
            "erc20-token-periodic" => {
                json!({ "tokenAddress": hex_addr(TOKEN), "periodAmount": "0x5", "periodDuration": 60 })
            }
            "native-token-allowance" => json!({ "allowanceAmount": "0x5" }),
            "erc20-token-allowance" => json!({ "tokenAddress": hex_addr(TOKEN), "allowanceAmount": "0x5" }),
            _ => json!({}),
        };
        let v = json!({
            "chainId": "0x1", "from": hex_addr(account()), "to": hex_addr(session()),
            "permission": { "type": t.name, "isAdjustmentAllowed": false, "data": data },
            "rules": [
                { "type": "expiry", "data": { "timestamp": NOW + 60 } },
                { "type": "payee", "data": { "addresses": [hex_addr(PAYEE)] } },
                { "type": "redeemer", "data": { "addresses": [hex_addr(session())] } }
            ]
        });
        let result = PermissionRequest::from_json(&v).and_then(|r| translate(&r, &pays_for(&r)));
        match t.support {
            Support::Exact { .. } => {
                let tr = result.unwrap_or_else(|e| panic!("{}: {e}", t.name));
                assert_eq!(tr.request.permission.type_name(), t.name);
            }
            Support::Refused { .. } => {
                assert!(
                    matches!(result, Err(Erc7715Error::RefusedType { ty, .. }) if ty == t.name),
                    "{}",
                    t.name
                )
            }
        }
        assert_eq!(permission_type(t.name), Some(t));
    }
}

fn sign(t: &warrant_core::erc7715::Translation) -> SignedGrant {
    sign_grant(t.grant(0, B256::with_last_byte(7)), MODULE, t.chain_id, &Key::from_seed("erc7715 owner"))
        .unwrap()
}

/// request → scope → signed grant → response → the same request, and the context carries the grant.
#[test]
fn responses_round_trip_through_the_grant() {
    let t = translate(&parse(&erc20_periodic()), &pays(10u128.pow(16))).unwrap();
    let signed = sign(&t);
    let response = PermissionResponse::from_grant(&signed, vec![]).unwrap();
    assert_eq!(response.delegation_manager, MODULE);
    assert!(response.dependencies.is_empty());
    let mut expected = t.request.clone();
    expected.permission.justification = None;
    assert_eq!(response.request, expected, "justification is not in the grant; the rest is");
    let json = response.to_json();
    assert_eq!(json["chainId"], "0xaa36a7");
    assert_eq!(json["permission"]["data"]["periodAmount"], "0x989680");
    assert_eq!(json["permission"]["data"]["periodDuration"], 86_400);
    assert_eq!(json["permission"]["data"]["tokenAddress"], hex_addr(TOKEN));
    assert_eq!(json["dependencies"], json!([]));
    assert_eq!(json["delegationManager"], hex_addr(MODULE));
    let context = json["context"].as_str().unwrap();
    assert!(context.starts_with("0x77617272616e7431"), "hex of \"warrant1…\": {context}");
    assert_eq!(grant_from_context(context).unwrap(), signed);
    assert_eq!(grant_from_context(&signed.to_token().unwrap()).unwrap(), signed, "the bare token too");
    assert_eq!(context_of(&signed).unwrap(), context);
    for bad in ["", "0x", "0xzz", "warrant1AAAA", "0x7761727261"] {
        assert_eq!(field_of(&grant_from_context(bad).unwrap_err()), "context", "{bad:?}");
    }
    // The response's request part reads back as a request, the same one.
    let mut part = json.clone();
    for key in ["context", "dependencies", "delegationManager"] {
        part.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(parse(&part), response.request);
}

#[test]
fn every_translated_shape_round_trips() {
    let base = |ty: &str, data: Value, rules: Value| {
        json!({
            "chainId": "0x1", "from": hex_addr(account()), "to": hex_addr(session()),
            "permission": { "type": ty, "isAdjustmentAllowed": false, "data": data }, "rules": rules
        })
    };
    let payee = json!([{ "type": "payee", "data": { "addresses": [hex_addr(PAYEE)] } }]);
    let cases = [
        base(
            "native-token-periodic",
            json!({ "periodAmount": "0x64", "periodDuration": 60, "startTime": NOW }),
            payee.clone(),
        ),
        base("native-token-allowance", json!({ "allowanceAmount": "0x64", "startTime": NOW + 5 }), json!([])),
        base(
            "erc20-token-allowance",
            json!({ "tokenAddress": hex_addr(TOKEN), "allowanceAmount": "0x64" }),
            payee,
        ),
        base(
            "erc20-token-periodic",
            json!({ "tokenAddress": hex_addr(TOKEN), "periodAmount": "0x64", "periodDuration": 60, "startTime": NOW }),
            json!([{ "type": "expiry", "data": { "timestamp": NOW + 600 } }]),
        ),
    ];
    for sponsored in [false, true] {
        for v in &cases {
            let r = parse(v);
            let gas =
                if sponsored { terms(GasTerms::Sponsored { paymaster: PAYMASTER }) } else { pays_for(&r) };
            let t = translate(&r, &gas).unwrap();
            let signed = sign(&t);
            let back = request_from_grant(&signed).unwrap();
            assert_eq!(back, t.request, "{v}");
        }
    }
}

#[test]
fn grants_that_no_permission_translates_to_are_not_described_as_one() {
    let t = translate(&parse(&erc20_periodic()), &pays(10u128.pow(16))).unwrap();
    let changes: [fn(&mut Scope); 8] = [
        |s| s.maxUses = 3,
        |s| s.maxUsesPerPeriod = 3,
        |s| s.calls[0].selector = FixedBytes([0x09, 0x5e, 0xa7, 0xb3]),
        |s| s.calls[0].maxValue = U256::from(1),
        |s| s.calls.push(s.calls[0].clone()),
        |s| s.limits.push(SpendLimit { token: Address::ZERO, perPeriod: NO_CAP, lifetime: 5 }),
        |s| s.limits[0].lifetime = 5,
        |s| s.calls[0].flags = ANY_TARGET,
    ];
    for (i, change) in changes.iter().enumerate() {
        let mut grant = t.grant(0, B256::ZERO);
        change(&mut grant.session.scope);
        let signed = SignedGrant {
            chain_id: 1,
            module: MODULE,
            grant,
            owner_signature: Bytes::from(vec![1; 65]),
            session_key: None,
        };
        assert!(
            matches!(PermissionResponse::from_grant(&signed, vec![]), Err(Erc7715Error::NotAPermission(_))),
            "change {i}"
        );
    }
}

fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![1u128..1000, 1u128..=(1u128 << 112) - 1]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever translates passes `Scope::validate`, is described in words with its amount, and comes back from
    /// the grant as the same request.
    #[test]
    fn translated_scopes_validate_explain_and_round_trip(
        erc20 in any::<bool>(),
        periodic in any::<bool>(),
        amount in amount(),
        duration in 1u64..=u32::MAX as u64,
        start in proptest::option::of(1u64..(1 << 40)),
        expiry in proptest::option::of(1u64..(1 << 30)),
        payees in proptest::option::of(proptest::collection::btree_set(any::<[u8; 20]>(), 1..4)),
        sponsored in any::<bool>(),
    ) {
        let mut data = serde_json::Map::new();
        let amount_hex = json!(format!("{amount:#x}"));
        if periodic {
            data.insert("periodAmount".into(), amount_hex);
            data.insert("periodDuration".into(), json!(duration));
        } else {
            data.insert("allowanceAmount".into(), amount_hex);
        }
        if let Some(s) = start { data.insert("startTime".into(), json!(s)); }
        if erc20 { data.insert("tokenAddress".into(), json!(hex_addr(TOKEN))); }
        let ty = match (erc20, periodic) {
            (false, true) => "native-token-periodic",
            (true, true) => "erc20-token-periodic",
            (false, false) => "native-token-allowance",
            (true, false) => "erc20-token-allowance",
        };
        let mut rules = vec![];
        let until = start.unwrap_or(NOW).max(NOW) + expiry.unwrap_or(0);
        if expiry.is_some() { rules.push(json!({ "type": "expiry", "data": { "timestamp": until } })); }
        if let Some(p) = &payees {
            let list: Vec<String> = p.iter().map(|a| hex_addr(Address::from(*a))).filter(|a| a != &hex_addr(Address::ZERO)).collect();
            if !list.is_empty() { rules.push(json!({ "type": "payee", "data": { "addresses": list } })); }
        }
        let v = json!({
            "chainId": "0x1", "from": hex_addr(account()), "to": hex_addr(session()),
            "permission": { "type": ty, "isAdjustmentAllowed": true, "data": data }, "rules": rules
        });
        let r = parse(&v);
        let gas = if sponsored { terms(GasTerms::Sponsored { paymaster: PAYMASTER }) } else { pays_for(&r) };
        let t = match translate(&r, &gas) {
            Ok(t) => t,
            // A period whose first window ends past 2^48 is the one refusal left in these ranges.
            Err(e) => { prop_assert!(periodic && e.to_string().contains("scope"), "{}", e); return Ok(()); }
        };
        prop_assert!(t.scope.validate().is_ok());
        let words = explain_scope(&t.scope, &Default::default());
        prop_assert!(words.contains("may move at most"), "{}", words);
        let needle = if erc20 { format!("{amount} (raw; token decimals unknown)") } else { format!("(raw {amount} wei)") };
        prop_assert!(words.contains(&needle), "{}", words);
        prop_assert!(words.contains(if periodic { " per " } else { " over the session" }), "{}", words);
        let signed = SignedGrant { chain_id: 1, module: MODULE, grant: t.grant(1, B256::ZERO), session_key: None, owner_signature: Bytes::from(vec![7; 65]) };
        let back = request_from_grant(&signed).unwrap();
        let mut expected = t.request.clone();
        expected.permission.is_adjustment_allowed = false;
        prop_assert_eq!(back, expected);
        prop_assert_eq!(matches!(t.request.permission.asset, Asset::Erc20(_)), erc20);
    }
}

#[test]
fn requests_built_in_code_are_checked_like_parsed_ones() {
    let t = pays(10u128.pow(15));
    let mut r = parse(&erc20_periodic());
    r.rules.push(Rule::Expiry { timestamp: NOW + 10 });
    assert_eq!(field_of(&translate(&r, &t).unwrap_err()), "rules[1]", "a second expiry is not ignored");
    r.rules = vec![Rule::Payee { addresses: vec![] }];
    assert_eq!(field_of(&translate(&r, &t).unwrap_err()), "rules[0].data.addresses");
    r.rules = vec![Rule::Payee { addresses: vec![PAYEE, PAYEE] }];
    assert_eq!(field_of(&translate(&r, &t).unwrap_err()), "rules[0].data.addresses[1]");
    r.rules = vec![];
    r.permission.budget =
        Budget::Periodic { period_amount: U256::from(1), period_duration: 60, start_time: Some(0) };
    assert_eq!(field_of(&translate(&r, &t).unwrap_err()), "permission.data.startTime");
    r.permission.budget = Budget::Allowance { allowance_amount: U256::from(1), start_time: Some(0) };
    assert_eq!(field_of(&translate(&r, &t).unwrap_err()), "permission.data.startTime");
}

#[test]
fn params_arrays_name_the_item() {
    let stream = with(erc20_periodic(), &["permission", "type"], json!("native-token-stream"));
    let e = PermissionRequest::list_from_json(&json!([erc20_periodic(), stream])).unwrap_err();
    assert_eq!(field_of(&e), "params[1].permission.type", "{e}");
    let e = PermissionRequest::list_from_json(&json!([erc20_periodic(), { "chainId": "0x1" }])).unwrap_err();
    assert_eq!(field_of(&e), "params[1].to", "{e}");
    assert_eq!(field_of(&PermissionRequest::list_from_json(&json!([])).unwrap_err()), "params");
    assert_eq!(
        PermissionRequest::list_from_json(&erc20_periodic()).unwrap().len(),
        1,
        "one object, one request"
    );
}

#[test]
fn a_native_grant_that_allows_no_call_is_not_a_permission() {
    let v = json!({
        "chainId": "0x1", "from": hex_addr(account()), "to": hex_addr(session()),
        "permission": { "type": "native-token-allowance", "isAdjustmentAllowed": false,
                        "data": { "allowanceAmount": "0x10" } }
    });
    let t = translate(&parse(&v), &native_pays()).unwrap();
    let mut grant = t.grant(0, B256::ZERO);
    grant.session.scope.calls.clear();
    let signed = SignedGrant {
        chain_id: 1,
        module: MODULE,
        grant,
        owner_signature: Bytes::from(vec![1; 65]),
        session_key: None,
    };
    assert!(matches!(request_from_grant(&signed), Err(Erc7715Error::NotAPermission(_))));
}
