//! An [`alloy::signers::SignerSync`] over libsecp256k1 (the C library behind the `secp256k1` crate): on this
//! machine it signs in about half the time of k256, which alloy's `PrivateKeySigner` uses. It lives here, not
//! in `warrant-core`, which stays pure Rust and wasm32-clean; the SDK takes any `SignerSync`.

use alloy::{
    primitives::{Address, B256, ChainId, Signature, keccak256},
    signers::{Result as SignerResult, SignerSync},
};
use secp256k1::{Message, PublicKey, SECP256K1, SecretKey, ecdsa::RecoverableSignature};

use crate::BenchError;

/// A secp256k1 key that signs with libsecp256k1 (RFC 6979 nonces, low-s: the same signatures as k256).
#[derive(Clone)]
pub struct Secp256k1Signer {
    secret: SecretKey,
    address: Address,
}

impl std::fmt::Debug for Secp256k1Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Secp256k1Signer").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Secp256k1Signer {
    /// A signer for the 32-byte secret `key`; an error if it is zero or not below the curve order.
    pub fn from_bytes(key: &B256) -> Result<Self, BenchError> {
        let secret = SecretKey::from_byte_array(key.0)
            .map_err(|e| BenchError::InvalidKey(format!("not a secp256k1 secret key: {e}")))?;
        let public = PublicKey::from_secret_key(SECP256K1, &secret).serialize_uncompressed();
        let address = Address::from_slice(&keccak256(&public[1..])[12..]);
        Ok(Self { secret, address })
    }

    /// The key's Ethereum address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The raw recoverable signature of `hash` (what [`SignerSync::sign_hash_sync`] wraps).
    pub fn sign_prehash(&self, hash: &B256) -> RecoverableSignature {
        SECP256K1.sign_ecdsa_recoverable(Message::from_digest(hash.0), &self.secret)
    }
}

/// `(r, s, y_parity)` of a libsecp256k1 recoverable signature.
pub fn to_alloy(signature: &RecoverableSignature) -> Signature {
    let (id, rs) = signature.serialize_compact();
    let r = B256::from_slice(&rs[..32]);
    let s = B256::from_slice(&rs[32..]);
    Signature::from_scalars_and_parity(r, s, i32::from(id) == 1)
}

impl SignerSync for Secp256k1Signer {
    fn sign_hash_sync(&self, hash: &B256) -> SignerResult<Signature> {
        Ok(to_alloy(&self.sign_prehash(hash)))
    }

    fn chain_id_sync(&self) -> Option<ChainId> {
        None
    }
}
