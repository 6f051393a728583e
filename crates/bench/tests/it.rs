//! The benchmark's own parts that must be right for its figures to mean anything.

use alloy::{
    primitives::{B256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use warrant_bench::{sign, signer::Secp256k1Signer};

/// libsecp256k1 and k256 make the same signature (RFC 6979, low-s) and the same address for a key.
#[test]
fn libsecp256k1_signer_equals_k256() {
    for i in 0u8..32 {
        let key = keccak256([i]);
        let fast = Secp256k1Signer::from_bytes(&key).unwrap();
        let k256 = PrivateKeySigner::from_bytes(&key).unwrap();
        assert_eq!(fast.address(), k256.address());
        let hash = keccak256([i, i]);
        assert_eq!(fast.sign_hash_sync(&hash).unwrap(), k256.sign_hash_sync(&hash).unwrap());
    }
}

/// A zero key and one above the curve order are refused, not signed with.
#[test]
fn invalid_keys_are_refused() {
    assert!(Secp256k1Signer::from_bytes(&B256::ZERO).is_err());
    assert!(Secp256k1Signer::from_bytes(&B256::repeat_byte(0xff)).is_err());
}

/// The signing job passes pre-flight, and the builder's operation is the same with either backend.
#[test]
fn signing_job_is_in_scope_and_backend_independent() {
    sign::check_backends_agree().unwrap();
    let job = sign::Job::new().unwrap();
    let json = job.to_json().unwrap();
    assert_eq!(json["expected"]["signature"].as_str().unwrap().len(), 2 + 130);
}
