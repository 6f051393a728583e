//! Grant tokens: round trips, and every kind of corruption refused with its own error.

use alloy_primitives::{Address, B256, Bytes, address};
use alloy_sol_types::SolValue;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use proptest::prelude::*;
use warrant_core::{
    grant::{Grant, Session},
    session_op::sign_grant_unchecked,
    token::{SignedGrant, TokenError},
};

use crate::support::{Key, empty_scope, grant};

const MODULE: Address = address!("0x00000000000000000000000000000000000000aa");

fn payload(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(token.strip_prefix("warrant1").unwrap()).unwrap()
}

fn token_of(payload: &[u8]) -> String {
    format!("warrant1{}", URL_SAFE_NO_PAD.encode(payload))
}

/// Re-seals a payload whose last 4 bytes are its CRC-32 (the layout of docs/grant-token.md).
fn reseal(mut body: Vec<u8>) -> String {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&body);
    body.extend_from_slice(&crc.to_be_bytes());
    token_of(&body)
}

/// A payload from its parts, sealed with a correct checksum.
fn assemble(chain_id: u64, module: Address, grant_abi: &[u8], kind: u8, sig: &[u8]) -> String {
    let mut body = vec![warrant_core::token::TOKEN_VERSION];
    body.extend_from_slice(&chain_id.to_be_bytes());
    body.extend_from_slice(module.as_slice());
    body.extend_from_slice(&(grant_abi.len() as u32).to_be_bytes());
    body.extend_from_slice(grant_abi);
    body.push(kind);
    body.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    body.extend_from_slice(sig);
    reseal(body)
}

fn small_grant() -> Grant {
    Grant {
        account: address!("0x1111111111111111111111111111111111111111"),
        epoch: 0,
        session: Session {
            signer: address!("0x2222222222222222222222222222222222222222"),
            salt: B256::ZERO,
            scope: empty_scope(),
        },
    }
}

fn signed(grant: Grant, ecdsa: bool) -> SignedGrant {
    if ecdsa {
        sign_grant_unchecked(grant, MODULE, 31337, &Key::from_seed("owner")).unwrap()
    } else {
        SignedGrant {
            chain_id: 31337,
            module: MODULE,
            grant,
            owner_signature: Bytes::from_static(&[7; 70]),
            session_key: None,
        }
    }
}

fn signed_grant() -> impl Strategy<Value = SignedGrant> {
    (
        grant(),
        any::<bool>(),
        1u64..u64::MAX,
        any::<[u8; 20]>(),
        proptest::collection::vec(any::<u8>(), 0..150),
    )
        .prop_filter_map("module must not be zero", |(grant, ecdsa, chain_id, module, opaque)| {
            let module = Address::from(module);
            if module == Address::ZERO {
                return None;
            }
            Some(if ecdsa {
                sign_grant_unchecked(grant, module, chain_id, &Key::from_seed("owner")).unwrap()
            } else {
                SignedGrant { chain_id, module, grant, owner_signature: opaque.into(), session_key: None }
            })
        })
}

/// The documented example (docs/grant-token.md): a scope-less grant signed by keccak256("owner") on chain
/// 31337 for module 0x…aa. Its exact token pins the format.
#[test]
fn golden_token() {
    let signed = signed(small_grant(), true);
    let token = signed.to_token().unwrap();
    assert_eq!(token, GOLDEN);
    assert_eq!(SignedGrant::from_token(GOLDEN).unwrap(), signed);
    assert_eq!(signed.recover_owner(), Some(Key::from_seed("owner").address()));
    // The compact kind: 65 signature bytes, not the 546-byte ERC-7739 envelope.
    let p = payload(&token);
    assert_eq!(p.len(), 1 + 8 + 20 + 4 + small_grant().abi_encode().len() + 1 + 2 + 65 + 4);
    assert_eq!(p[p.len() - 4 - 65 - 3], 0, "signature kind 0");
}

const GOLDEN: &str = include_str!("golden_token.txt");

#[test]
fn opaque_signatures_round_trip_and_recover_no_owner() {
    let signed = signed(small_grant(), false);
    let back = SignedGrant::from_token(&signed.to_token().unwrap()).unwrap();
    assert_eq!(back, signed);
    assert_eq!(back.recover_owner(), None);
}

#[test]
fn each_corruption_has_its_own_error() {
    let signed = signed(small_grant(), true);
    let token = signed.to_token().unwrap();
    let p = payload(&token);
    let grant_abi = small_grant().abi_encode();
    let raw_sig = &p[p.len() - 4 - 65..p.len() - 4];

    let cases: Vec<(String, TokenError)> = vec![
        (token.replacen("warrant1", "warrant2", 1), TokenError::WrongPrefix),
        (token.replacen("warrant1", "Warrant1", 1), TokenError::WrongPrefix),
        (token[8..].to_string(), TokenError::WrongPrefix),
        ("warrant1".into(), TokenError::Empty),
        (format!("{token}="), TokenError::Base64(String::new())),
        (format!("{} ", token), TokenError::Base64(String::new())),
        (token.replacen('A', "+", 1), TokenError::Base64(String::new())),
        (
            {
                // Version 1 grants had no argument types: refused by version, never misread.
                let mut p2 = p.clone();
                p2[0] = 1;
                token_of(&p2)
            },
            TokenError::UnsupportedVersion(1),
        ),
        (
            {
                let mut p2 = p.clone();
                p2[0] = 0;
                token_of(&p2)
            },
            TokenError::UnsupportedVersion(0),
        ),
        (token_of(&p[..20]), TokenError::Truncated { field: "module address", needed: 9 }),
        (token_of(&p[..p.len() - 1]), TokenError::Truncated { field: "checksum", needed: 1 }),
        (
            {
                let mut p2 = p.clone();
                let n = p2.len();
                p2[n - 1] ^= 1;
                token_of(&p2)
            },
            TokenError::ChecksumMismatch { stored: 0, computed: 0 },
        ),
        (
            {
                let mut p2 = p.clone();
                p2[40] ^= 0x80;
                token_of(&p2)
            },
            TokenError::ChecksumMismatch { stored: 0, computed: 0 },
        ),
        (
            {
                let mut p2 = p.clone();
                p2.push(0);
                token_of(&p2)
            },
            TokenError::TrailingBytes(1),
        ),
        (assemble(0, MODULE, &grant_abi, 0, raw_sig), TokenError::ZeroChainId),
        (assemble(31337, Address::ZERO, &grant_abi, 0, raw_sig), TokenError::ZeroModule),
        (
            assemble(31337, MODULE, &grant_abi[..grant_abi.len() - 32], 0, raw_sig),
            TokenError::GrantAbi(String::new()),
        ),
        (assemble(31337, MODULE, &[0xff; 64], 0, raw_sig), TokenError::GrantAbi(String::new())),
        (
            {
                // The same grant behind a non-standard head offset (0x40 with a gap word): decodes, not canonical.
                let mut abi = B256::with_last_byte(0x40).to_vec();
                abi.extend_from_slice(&[0; 32]);
                abi.extend_from_slice(&grant_abi[32..]);
                assemble(31337, MODULE, &abi, 0, raw_sig)
            },
            TokenError::NonCanonical(""),
        ),
        (
            {
                // Dirty high bits in the uint64 epoch.
                let mut abi = grant_abi.clone();
                abi[32 + 32] = 1;
                assemble(31337, MODULE, &abi, 0, raw_sig)
            },
            TokenError::NonCanonical(""),
        ),
        (assemble(31337, MODULE, &grant_abi, 2, raw_sig), TokenError::UnknownSignatureKind(2)),
        (assemble(31337, MODULE, &grant_abi, 0, &raw_sig[..64]), TokenError::BadSignatureLength(64)),
        (assemble(31337, MODULE, &grant_abi, 1, &signed.owner_signature), TokenError::NonCanonical("")),
    ];
    for (i, (bad, want)) in cases.into_iter().enumerate() {
        let got = SignedGrant::from_token(&bad).expect_err(&format!("case {i} must be refused"));
        let same = std::mem::discriminant(&got) == std::mem::discriminant(&want)
            && match (&got, &want) {
                (TokenError::UnsupportedVersion(a), TokenError::UnsupportedVersion(b)) => a == b,
                (TokenError::Truncated { .. }, _) => got == want,
                (TokenError::TrailingBytes(a), TokenError::TrailingBytes(b)) => a == b,
                (TokenError::UnknownSignatureKind(a), TokenError::UnknownSignatureKind(b)) => a == b,
                (TokenError::BadSignatureLength(a), TokenError::BadSignatureLength(b)) => a == b,
                _ => true,
            };
        assert!(same, "case {i}: expected {want:?}, got {got:?} ({got})");
        assert!(!got.to_string().is_empty());
    }
}

#[test]
fn error_messages_name_the_problem() {
    let token = signed(small_grant(), true).to_token().unwrap();
    let msg = |t: &str| SignedGrant::from_token(t).unwrap_err().to_string();
    assert_eq!(msg("hello"), "not a grant token: it must start with \"warrant1\"");
    let mut p = payload(&token);
    p[0] = 9;
    assert_eq!(
        msg(&token_of(&p)),
        "unsupported grant token version 9 (this build reads versions 3 and 4; versions 1 and 2 predate argument \
         types and gates: sign the grant again)"
    );
    let mut p = payload(&token);
    let n = p.len();
    p[n - 1] ^= 0xff;
    assert!(msg(&token_of(&p)).contains("checksum mismatch"), "{}", msg(&token_of(&p)));
    assert_eq!(
        msg(&token_of(&payload(&token)[..25])),
        "grant token is truncated or corrupted: the module address needs 4 more bytes"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(signed in signed_grant()) {
        let token = signed.to_token().unwrap();
        prop_assert!(token.starts_with("warrant1"));
        prop_assert!(token[8..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(SignedGrant::from_token(&token).unwrap(), signed);
    }

    #[test]
    fn wrong_checksum_is_refused(signed in signed_grant(), flip in 1u32..) {
        let mut p = payload(&signed.to_token().unwrap());
        let n = p.len();
        let stored = u32::from_be_bytes(p[n - 4..].try_into().unwrap()) ^ flip;
        p[n - 4..].copy_from_slice(&stored.to_be_bytes());
        let is_mismatch = matches!(
            SignedGrant::from_token(&token_of(&p)),
            Err(TokenError::ChecksumMismatch { stored: s, .. }) if s == stored
        );
        prop_assert!(is_mismatch);
    }

    #[test]
    fn wrong_version_is_refused(signed in signed_grant(), version in 0u8..) {
        // 3 is the token's own version; 4 reads a key section the token does not have (refused otherwise).
        prop_assume!(version != 3 && version != 4);
        let mut p = payload(&signed.to_token().unwrap());
        p[0] = version;
        prop_assert_eq!(SignedGrant::from_token(&token_of(&p)), Err(TokenError::UnsupportedVersion(version)));
    }
}

proptest! {
    // Each case decodes every corrupted variant of one token (8 per character, or one per length).
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn every_flipped_bit_is_refused(signed in signed_grant()) {
        let token = signed.to_token().unwrap().into_bytes();
        for i in 0..token.len() {
            for bit in 0..8 {
                let mut bad = token.clone();
                bad[i] ^= 1 << bit;
                // A flip that leaves UTF-8 can't even be given as a &str; every other one must be refused.
                if let Ok(bad) = String::from_utf8(bad) {
                    prop_assert!(SignedGrant::from_token(&bad).is_err(), "byte {} bit {} accepted", i, bit);
                }
            }
        }
    }

    #[test]
    fn every_truncation_is_refused(signed in signed_grant()) {
        let token = signed.to_token().unwrap();
        for len in 0..token.len() {
            prop_assert!(SignedGrant::from_token(&token[..len]).is_err(), "prefix of {} chars accepted", len);
        }
    }
}
