//! The stable JSON form of grants: its exact shape, round trips, and strict reading.

use alloy_primitives::{Address, B256, FixedBytes, U256, address, aliases::U48, keccak256};
use proptest::prelude::*;
use warrant_core::{
    grant::{ArgCondition, CallPolicy, Grant, Scope, Session, arg_type},
    grant_json::{GrantJson, ScopeJson, SignedGrantJson},
    session_op::sign_grant,
    token::SignedGrant,
};

use crate::support::{Key, grant};

pub(crate) const TOKEN: Address = address!("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48");
pub(crate) const RECIPIENT: Address = address!("0x000000000000000000000000000000000000bEEF");

/// transfer(RECIPIENT, ≤ 100 USDC) on TOKEN, until 2026-12-01 12:00 UTC, at most 10 times, gas paid by the
/// account from a 0.01 ETH budget.
pub(crate) fn usdc_scope() -> Scope {
    Scope {
        validAfter: U48::ZERO,
        validUntil: U48::from(1_796_126_400u64),
        maxUses: 10,
        maxValueTotal: U256::from(10u64.pow(16)),
        paymaster: Address::ZERO,
        maxGasLimit: 500_000,
        maxFeePerGas: 20_000_000_000,
        calls: vec![CallPolicy {
            target: TOKEN,
            selector: FixedBytes(keccak256("transfer(address,uint256)")[..4].try_into().unwrap()),
            flags: 0,
            maxValue: U256::ZERO,
            conditions: vec![
                ArgCondition {
                    condition: 0,
                    argType: arg_type::ADDRESS,
                    argIndex: 0,
                    values: vec![RECIPIENT.into_word()],
                },
                ArgCondition {
                    condition: 3,
                    argType: arg_type::uint(256),
                    argIndex: 1,
                    values: vec![B256::from(U256::from(100_000_000u64))],
                },
            ],
        }],
        ..Default::default()
    }
}

fn usdc_grant() -> Grant {
    Grant {
        account: address!("0x1111111111111111111111111111111111111111"),
        epoch: 3,
        session: Session {
            signer: address!("0x2222222222222222222222222222222222222222"),
            salt: B256::with_last_byte(1),
            scope: usdc_scope(),
        },
    }
}

const EXPECTED: &str = r#"{
  "account": "0x1111111111111111111111111111111111111111",
  "epoch": "3",
  "session": {
    "signer": "0x2222222222222222222222222222222222222222",
    "salt": "0x0000000000000000000000000000000000000000000000000000000000000001",
    "scope": {
      "validAfter": 0,
      "validUntil": 1796126400,
      "maxUses": 10,
      "maxValueTotal": "10000000000000000",
      "paymaster": "0x0000000000000000000000000000000000000000",
      "maxGasLimit": "500000",
      "maxFeePerGas": "20000000000",
      "calls": [
        {
          "target": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
          "selector": "0xa9059cbb",
          "flags": 0,
          "maxValue": "0",
          "conditions": [
            {
              "condition": 0,
              "argType": 96,
              "argIndex": 0,
              "values": [
                "0x000000000000000000000000000000000000000000000000000000000000beef"
              ]
            },
            {
              "condition": 3,
              "argType": 31,
              "argIndex": 1,
              "values": [
                "0x0000000000000000000000000000000000000000000000000000000005f5e100"
              ]
            }
          ]
        }
      ],
      "period": 0,
      "periodStart": 0,
      "maxUsesPerPeriod": 0,
      "limits": [],
      "gates": []
    }
  }
}"#;

#[test]
fn documented_shape() {
    let json = serde_json::to_string_pretty(&GrantJson::from(&usdc_grant())).unwrap();
    assert_eq!(json, EXPECTED);
    let back: GrantJson = serde_json::from_str(EXPECTED).unwrap();
    assert_eq!(Grant::from(back), usdc_grant());
}

/// Why the form has its own types: the `sol!` structs' serde writes 128-bit fields as bare JSON numbers,
/// which JavaScript reads as doubles (2^53 and above rounded) and `serde_json::Value` cannot even hold.
#[test]
fn sol_struct_serde_writes_wide_integers_as_numbers() {
    let mut scope = usdc_scope();
    scope.maxFeePerGas = u128::MAX;
    let sol = serde_json::to_string(&scope).unwrap();
    assert!(sol.contains(&format!("\"maxFeePerGas\":{}", u128::MAX)), "{sol}");
    assert!(serde_json::to_value(&scope).is_err());
    let ours = serde_json::to_value(ScopeJson::from(&scope)).unwrap();
    assert_eq!(ours["maxFeePerGas"], u128::MAX.to_string());
}

#[test]
fn signed_grant_json_round_trip() {
    let signed = sign_grant(
        usdc_grant(),
        address!("0x00000000000000000000000000000000000000aa"),
        1,
        &Key::from_seed("o"),
    )
    .unwrap();
    let json = serde_json::to_value(SignedGrantJson::from(&signed)).unwrap();
    assert_eq!(json["chainId"], "1");
    assert_eq!(json["module"], "0x00000000000000000000000000000000000000AA");
    assert!(json["ownerSignature"].as_str().unwrap().starts_with("0x"));
    assert!(json.get("sessionKey").is_none(), "a secp256k1 session writes no sessionKey");
    let back: SignedGrantJson = serde_json::from_value(json).unwrap();
    assert_eq!(SignedGrant::try_from(back).unwrap(), signed);
}

/// The JSON form keeps a P-256 session key (as a version-4 token does), and refuses one that is not the
/// session's signer or not of a known kind.
#[test]
fn signed_grant_json_keeps_a_p256_session_key() {
    use warrant_core::p256::{P256Kind, P256Signer};
    let key = P256Signer::from_bytes(P256Kind::Raw, &[9; 32]).unwrap();
    let mut grant = usdc_grant();
    grant.session.signer = key.signer();
    let module = address!("0x00000000000000000000000000000000000000aa");
    let signed =
        sign_grant(grant, module, 1, &Key::from_seed("o")).unwrap().with_session_key(key.key()).unwrap();
    let json = serde_json::to_value(SignedGrantJson::from(&signed)).unwrap();
    assert_eq!(json["sessionKey"]["kind"], 1);
    assert_eq!(json["sessionKey"]["x"], key.key().x.to_string());
    let back: SignedGrantJson = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(SignedGrant::try_from(back).unwrap(), signed, "the key survives the round trip");

    let mut wrong_kind = json.clone();
    wrong_kind["sessionKey"]["kind"] = 3.into();
    let err =
        SignedGrant::try_from(serde_json::from_value::<SignedGrantJson>(wrong_kind).unwrap()).unwrap_err();
    assert!(err.to_string().contains("not 1 (raw) or 2 (WebCrypto)"), "{err}");
    let mut other_key = json;
    other_key["sessionKey"]["kind"] = 2.into(); // the same point as WebCrypto: another identifier
    let err =
        SignedGrant::try_from(serde_json::from_value::<SignedGrantJson>(other_key).unwrap()).unwrap_err();
    assert!(err.to_string().contains("session"), "a key that is not the signer is refused: {err}");
}

#[test]
fn strict_reading() {
    let good: serde_json::Value = serde_json::from_str(EXPECTED).unwrap();
    type Edit = fn(&mut serde_json::Value);
    let cases: [(Edit, &str); 13] = [
        (|v| v["session"]["scope"]["calls"][0]["conditions"][0]["argType"] = 256.into(), "u8"),
        (|v| v["extra"] = 1.into(), "unknown field `extra`"),
        (|v| v["session"]["scope"]["surprise"] = 1.into(), "unknown field `surprise`"),
        (|v| v["epoch"] = 3.into(), "expected a string"),
        (|v| v["epoch"] = "03".into(), "leading zeros"),
        (|v| v["epoch"] = "0x3".into(), "not a decimal string"),
        (|v| v["epoch"] = "-3".into(), "not a decimal string"),
        (|v| v["epoch"] = "18446744073709551616".into(), "does not fit in u64"),
        (|v| v["session"]["scope"]["validUntil"] = (1u64 << 48).into(), "does not fit in uint48"),
        (|v| v["account"] = "0x1111111111111111111111111111111111111111aa".into(), "not an address"),
        (
            // A mixed-case address with a wrong EIP-55 checksum (one letter's case changed).
            |v| {
                v["session"]["scope"]["calls"][0]["target"] =
                    "0xa0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into()
            },
            "invalid EIP-55 checksum",
        ),
        (|v| v["session"]["scope"]["calls"][0]["selector"] = "0xa9059c".into(), "0x and 8 hex digits"),
        (|v| v["session"]["salt"] = "1".into(), "0x and 64 hex digits"),
    ];
    for (edit, expected) in cases {
        let mut v = good.clone();
        edit(&mut v);
        let err = serde_json::from_value::<GrantJson>(v).unwrap_err().to_string();
        assert!(err.contains(expected), "expected {expected:?} in: {err}");
    }
    // All-lowercase and all-uppercase addresses are accepted, like a correct checksum.
    let mut v = good.clone();
    v["session"]["scope"]["calls"][0]["target"] = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48".into();
    assert_eq!(Grant::from(serde_json::from_value::<GrantJson>(v).unwrap()), usdc_grant());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn json_round_trip(grant in grant()) {
        let text = serde_json::to_string(&GrantJson::from(&grant)).unwrap();
        let back: GrantJson = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(Grant::from(back), grant);
    }
}
