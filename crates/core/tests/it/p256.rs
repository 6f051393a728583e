//! P-256 session keys off chain: keys, identifiers, what each kind signs, the 129-byte session signature, the
//! signer check that mirrors the validator, the split signing of `SessionOp` (digest out, signature in), and grant
//! tokens that carry the key. The validator's side is `contracts/test/P256Sessions.t.sol`; both are compared in
//! `crates/chain/tests/it/differential.rs`.

use alloy_primitives::{Address, B256, U256, b256, keccak256};
use warrant_core::{
    CoreError,
    explain::{TokenHints, explain_signed_grant},
    grant::{Grant, Session, session_signer, use_digest},
    p256::{
        P256_HALF_N, P256_N, P256_SESSION_SIGNATURE_LEN, P256Key, P256Kind, P256Signer, estimation_signature,
        p256_session_signer,
    },
    session_op::{SessionOp, sign_grant},
    token::{SignedGrant, TOKEN_VERSION, TOKEN_VERSION_P256, TokenError},
};

use crate::{grant_json::usdc_scope, session_op::base_op, support::Key};

fn signer(kind: P256Kind, seed: &str) -> P256Signer {
    P256Signer::from_bytes(kind, &keccak256(seed).0).unwrap()
}

fn digest() -> B256 {
    keccak256("a session digest")
}

#[test]
fn webcrypto_signs_the_sha256_of_the_digest_and_raw_the_digest() {
    // sha256 of 32 zero bytes (FIPS 180-4), the hash WebCrypto's ECDSA/SHA-256 computes over its input.
    assert_eq!(
        P256Kind::WebCrypto.prehash(B256::ZERO),
        b256!("0x66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925")
    );
    assert_eq!(P256Kind::Raw.prehash(digest()), digest());
    // Both kinds hand their signing API the 32 digest bytes; only what the API does with them differs.
    assert_eq!(P256Kind::Raw.message(digest()), digest().to_vec());
    assert_eq!(P256Kind::WebCrypto.message(digest()), digest().to_vec());
    assert_eq!((P256Kind::Raw.byte(), P256Kind::WebCrypto.byte()), (1, 2));
    for b in [0u8, 3, 0xff] {
        assert_eq!(P256Kind::from_byte(b), None);
    }
}

#[test]
fn identifier_commits_to_kind_and_key() {
    let raw = signer(P256Kind::Raw, "k");
    let web = signer(P256Kind::WebCrypto, "k");
    let key = raw.key();
    let mut pre = vec![1u8];
    pre.extend_from_slice(key.x.as_slice());
    pre.extend_from_slice(key.y.as_slice());
    assert_eq!(key.signer(), Address::from_word(keccak256(&pre)), "keccak256(kind ‖ x ‖ y), low 20 bytes");
    assert_eq!((raw.key().x, raw.key().y), (web.key().x, web.key().y), "the same public key");
    assert_ne!(raw.signer(), web.signer(), "but one identifier per kind");
    assert_ne!(raw.signer(), signer(P256Kind::Raw, "other").signer());
}

#[test]
fn uncompressed_keys_are_parsed_strictly() {
    let key = signer(P256Kind::WebCrypto, "k").key();
    let bytes = key.to_uncompressed();
    assert_eq!(P256Key::from_uncompressed(P256Kind::WebCrypto, &bytes).unwrap(), key);
    let err = |b: &[u8]| P256Key::from_uncompressed(P256Kind::Raw, b).unwrap_err().to_string();
    assert!(err(&bytes[..64]).contains("65 bytes"), "{}", err(&bytes[..64]));
    let mut compressed_prefix = bytes;
    compressed_prefix[0] = 0x02;
    assert!(err(&compressed_prefix).contains("starts with 0x04"), "{}", err(&compressed_prefix));
    let mut off = bytes;
    off[64] ^= 1;
    assert!(err(&off).contains("not a point on the P-256 curve"), "{}", err(&off));
    assert!(err(&[&[4u8][..], &[0u8; 64]].concat()).contains("not a point"), "(0, 0) is not on the curve");
    // A coordinate not below the field prime p (y + p does not fit; x = 2^256 - 1 is above p).
    let mut big = bytes;
    big[1..33].copy_from_slice(&[0xff; 32]);
    assert!(matches!(P256Key::from_uncompressed(P256Kind::Raw, &big), Err(CoreError::InvalidP256Key(_))));
}

#[test]
fn session_signature_normalises_s_and_refuses_out_of_range() {
    let s = signer(P256Kind::Raw, "k");
    let key = s.key();
    let sig = s.sign_digest(digest()).unwrap();
    assert_eq!(sig.len(), P256_SESSION_SIGNATURE_LEN);
    assert_eq!(sig[0], 1);
    let r: [u8; 32] = sig[65..97].try_into().unwrap();
    let low: [u8; 32] = sig[97..129].try_into().unwrap();
    assert!(U256::from_be_bytes(low) <= P256_HALF_N, "signatures come out low-s");
    let high = (P256_N - U256::from_be_bytes(low)).to_be_bytes::<32>();
    assert_eq!(key.session_signature(&r, &high).unwrap(), sig, "a high s is normalised to n - s");
    assert!(key.verifies(digest(), &r, &low));
    assert!(!key.verifies(digest(), &r, &high), "high s verifies under plain ECDSA, not here");
    for (r, s) in [
        ([0u8; 32], low),
        (r, [0u8; 32]),
        (P256_N.to_be_bytes::<32>(), low),
        (r, P256_N.to_be_bytes::<32>()),
        ([0xff; 32], low),
    ] {
        assert!(matches!(key.session_signature(&r, &s), Err(CoreError::InvalidP256Signature(_))));
    }
}

#[test]
fn the_signer_check_mirrors_the_validator() {
    for kind in [P256Kind::Raw, P256Kind::WebCrypto] {
        let s = signer(kind, "k");
        let sig = s.sign_digest(digest()).unwrap();
        assert_eq!(session_signer(digest(), &sig), Some(s.signer()));
        assert_eq!(p256_session_signer(digest(), &sig), Some(s.signer()));
        // Another digest; the kind byte swapped; a truncated or extended signature; an unknown kind.
        assert_eq!(session_signer(keccak256("another"), &sig), None);
        let mut swapped = sig.to_vec();
        swapped[0] = 3 - swapped[0];
        assert_eq!(session_signer(digest(), &swapped), None, "the other kind's message does not verify");
        assert_eq!(session_signer(digest(), &sig[..128]), None);
        assert_eq!(session_signer(digest(), &[&sig[..], &[0]].concat()), None);
        let mut unknown = sig.to_vec();
        unknown[0] = 0;
        assert_eq!(session_signer(digest(), &unknown), None);
        // The point moved off the curve.
        let mut off = sig.to_vec();
        off[64] ^= 1;
        assert_eq!(session_signer(digest(), &off), None);
    }
    // secp256k1: only v 27/28, only low s (the ecrecover path).
    let k = Key::from_seed("session");
    let mut sig = alloy_signer::SignerSync::sign_hash_sync(&k, &digest()).unwrap().as_bytes();
    assert_eq!(session_signer(digest(), &sig), Some(k.address()));
    sig[64] -= 27;
    assert_eq!(session_signer(digest(), &sig), None, "v = 0 or 1 is refused by ecrecover");
    assert_eq!(session_signer(digest(), &[]), None);
}

#[test]
fn the_estimation_signature_fails_with_the_real_shape() {
    let s = signer(P256Kind::WebCrypto, "k");
    let dummy = estimation_signature(P256Kind::WebCrypto, digest()).unwrap();
    assert_eq!(dummy.len(), P256_SESSION_SIGNATURE_LEN);
    assert_eq!(dummy[0], 2);
    let proven = session_signer(digest(), &dummy).expect("a valid signature of a throwaway key");
    assert_ne!(proven, s.signer(), "not the session's key");
}

fn p256_session(key: &P256Signer) -> Session {
    Session { signer: key.signer(), salt: B256::ZERO, scope: usdc_scope() }
}

#[test]
fn session_op_signing_splits_into_digest_and_signature() {
    let key = signer(P256Kind::WebCrypto, "session");
    let session = p256_session(&key);
    let builder: SessionOp = base_op();
    let op = builder.unsigned().unwrap();
    let digest = builder.use_digest_for(&session, &op).unwrap();
    assert_eq!(digest, use_digest(builder.hash(&op).unwrap(), session.id(builder.account), builder.period));
    // What a page does: sign `digest` with WebCrypto (here, the Rust signer of the same kind), attach r ‖ s.
    let sig = key.sign_digest(digest).unwrap();
    let signed = builder.with_use_signature(&session, op.clone(), &sig).unwrap();
    assert_eq!(signed, builder.sign_use_p256(&session, &key).unwrap(), "one code path");
    assert!(signed.op.signature.ends_with(&sig));
    // A signature by another key, or of another digest, is refused before it reaches the chain.
    let other = signer(P256Kind::WebCrypto, "other").sign_digest(digest).unwrap();
    assert!(matches!(
        builder.with_use_signature(&session, op.clone(), &other),
        Err(CoreError::SessionKeyMismatch { .. })
    ));
    let stale = key.sign_digest(keccak256("stale")).unwrap();
    assert!(matches!(
        builder.with_use_signature(&session, op.clone(), &stale),
        Err(CoreError::BadSessionSignature { .. })
    ));
    let err = builder.with_use_signature(&session, op, &sig[..64]).unwrap_err().to_string();
    assert!(err.contains("64 bytes"), "{err}");
}

#[test]
fn enable_with_a_p256_key_and_a_token_that_carries_it() {
    let owner = Key::from_seed("owner");
    let key = signer(P256Kind::WebCrypto, "session");
    let builder: SessionOp = base_op();
    let grant = Grant { account: builder.account, epoch: 0, session: p256_session(&key) };
    let signed = sign_grant(grant, builder.module, builder.chain_id, &owner).unwrap();
    // The secp256k1-owner token of a P-256 session: version 4, the key after the owner signature.
    let carrying = signed.clone().with_session_key(key.key()).unwrap();
    let token = carrying.to_token().unwrap();
    assert_eq!(SignedGrant::from_token(&token).unwrap(), carrying);
    assert_eq!(SignedGrant::from_token(&signed.to_token().unwrap()).unwrap(), signed, "version 3 still read");
    let payload = |t: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.strip_prefix("warrant1").unwrap()).unwrap()
    };
    assert_eq!(payload(&token)[0], TOKEN_VERSION_P256);
    assert_eq!(payload(&signed.to_token().unwrap())[0], TOKEN_VERSION);
    // A key that is not the session's signer is refused, writing and reading.
    let stranger = signer(P256Kind::WebCrypto, "stranger").key();
    assert!(matches!(signed.clone().with_session_key(stranger), Err(TokenError::SessionKeyMismatch { .. })));
    let raw_twin = P256Key { kind: P256Kind::Raw, ..key.key() };
    assert!(matches!(signed.clone().with_session_key(raw_twin), Err(TokenError::SessionKeyMismatch { .. })));
    let mut forged = carrying.clone();
    forged.session_key = Some(stranger);
    assert!(matches!(forged.to_token(), Err(TokenError::SessionKeyMismatch { .. })));

    // Corrupting the key section (checksum re-sealed) is refused with the key named.
    let reseal = |mut body: Vec<u8>| {
        use base64::Engine as _;
        let n = body.len();
        body.truncate(n - 4);
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&body);
        body.extend_from_slice(&crc.to_be_bytes());
        format!("warrant1{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body))
    };
    let p = payload(&token);
    let key_at = p.len() - 4 - 65;
    let mut bad_kind = p.clone();
    bad_kind[key_at] = 7;
    assert!(matches!(SignedGrant::from_token(&reseal(bad_kind)), Err(TokenError::InvalidSessionKey(_))));
    let mut off_curve = p.clone();
    off_curve[key_at + 64] ^= 1;
    assert!(matches!(SignedGrant::from_token(&reseal(off_curve)), Err(TokenError::InvalidSessionKey(_))));
    let mut kind_swapped = p.clone();
    kind_swapped[key_at] = 1;
    assert!(matches!(
        SignedGrant::from_token(&reseal(kind_swapped)),
        Err(TokenError::SessionKeyMismatch { .. })
    ));
    let mut truncated = p[..p.len() - 4 - 10].to_vec();
    truncated.extend_from_slice(&[0; 4]);
    assert!(matches!(SignedGrant::from_token(&reseal(truncated)), Err(TokenError::Truncated { .. })));

    // explain names the key and its kind.
    let words = explain_signed_grant(&carrying, &TokenHints::default());
    assert!(
        words.starts_with(&format!("P-256 (WebCrypto) session key {}", key.signer().to_checksum(None))),
        "{words}"
    );
    assert!(explain_signed_grant(&signed, &TokenHints::default()).starts_with("Session key "));

    // ENABLE: digest out, signature in, one code path with the Rust signer.
    let op = builder.unsigned().unwrap();
    let d = builder.enable_digest_for(&carrying, &op).unwrap();
    let via_digest = builder.with_enable_signature(&carrying, op, &key.sign_digest(d).unwrap()).unwrap();
    assert_eq!(via_digest, builder.sign_enable_p256(&carrying, &key).unwrap());
}
