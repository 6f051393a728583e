//! Who signs a session operation: a secp256k1 key or a P-256 key, behind one trait, so every flow of the client
//! (estimation included) works for both.

use alloy::{
    primitives::{Address, B256, Bytes},
    signers::{SignerSync, local::PrivateKeySigner},
};
use warrant_core::{
    CoreError,
    p256::{self, P256Signer},
};

/// A session key: what the session's `signer` field holds, and its session signatures.
pub trait SessionSigner {
    /// The session's signer this key proves: an address for secp256k1, the key's identifier for P-256.
    fn signer(&self) -> Address;

    /// The session signature of a session digest (65 bytes for secp256k1, the 129-byte P-256 form).
    fn sign_digest(&self, digest: B256) -> Result<Bytes, CoreError>;

    /// A signature of the same kind and length by another key, for gas estimation: the validator runs every check
    /// with it and reports a signature failure (its estimation path), at the cost a real signature has.
    fn estimation_signature(&self, digest: B256) -> Result<Bytes, CoreError>;

    /// Whether [`SessionSigner::signer`] is derived from the secret that signs (an in-process key), so that its
    /// signatures prove it by construction and the client need not recover each one to check it (recovering
    /// costs more than signing). The default, `false`, suits a signer that only reports an address (a remote
    /// or hardware signer): each of its signatures is checked as the validator will check it.
    fn derives_signer(&self) -> bool {
        false
    }
}

impl SessionSigner for PrivateKeySigner {
    fn signer(&self) -> Address {
        self.address()
    }

    fn sign_digest(&self, digest: B256) -> Result<Bytes, CoreError> {
        let signature = self.sign_hash_sync(&digest).map_err(|e| CoreError::Signing(e.to_string()))?;
        Ok(signature.as_bytes().into())
    }

    fn estimation_signature(&self, digest: B256) -> Result<Bytes, CoreError> {
        // A fresh key recovers to another address (`ecrecover` runs and costs what it will).
        let throwaway = loop {
            let k = PrivateKeySigner::random();
            if k.address() != self.address() {
                break k;
            }
        };
        throwaway.sign_digest(digest)
    }

    fn derives_signer(&self) -> bool {
        // alloy derives the address from the key when the signer is made; k256 signs low-s with its recovery id.
        true
    }
}

impl SessionSigner for P256Signer {
    fn signer(&self) -> Address {
        P256Signer::signer(self)
    }

    fn sign_digest(&self, digest: B256) -> Result<Bytes, CoreError> {
        P256Signer::sign_digest(self, digest)
    }

    fn estimation_signature(&self, digest: B256) -> Result<Bytes, CoreError> {
        // A valid signature by a fixed throwaway key: OpenZeppelin's `verifyNative` calls the precompile twice on a
        // failing signature, so only a well-formed one of another key costs what the real one will.
        p256::estimation_signature(self.kind(), digest)
    }
}
