//! A secp256k1 secret key held in memory that is wiped on drop.

use std::fmt;

use alloy::{hex, primitives::Address, signers::local::PrivateKeySigner};
use zeroize::Zeroizing;

use crate::error::{KeystoreError, Result};

/// A 32-byte secp256k1 secret key, zeroized when dropped.
///
/// It does not implement `Display`, and its `Debug` output is `SecretKey(<redacted>)`.
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// Takes a secret key from its 32 big-endian bytes.
    ///
    /// # Errors
    ///
    /// [`KeystoreError::InvalidSecret`] if `bytes` is not 32 bytes long or is not a valid
    /// secp256k1 scalar (zero, or not below the group order).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let array: &[u8; 32] = bytes
            .try_into()
            .map_err(|_| KeystoreError::InvalidSecret { reason: "a secret key must be exactly 32 bytes" })?;
        let key = Self(Zeroizing::new(*array));
        key.signer()?;
        Ok(key)
    }

    /// Parses a secret key from 64 hex digits, with or without a `0x` prefix.
    ///
    /// The caller remains responsible for wiping `hex_str` itself.
    ///
    /// # Errors
    ///
    /// [`KeystoreError::InvalidSecret`] if `hex_str` is not 64 hex digits or is not a valid
    /// secp256k1 secret key. The message never quotes the input.
    pub fn from_hex(hex_str: &str) -> Result<Self> {
        let digits = hex_str.trim();
        let digits = digits.strip_prefix("0x").unwrap_or(digits);
        let mut buf = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(digits, buf.as_mut_slice()).map_err(|_| KeystoreError::InvalidSecret {
            reason: "expected 64 hex digits (32 bytes), optionally prefixed with 0x",
        })?;
        Self::from_bytes(buf.as_slice())
    }

    /// The Ethereum address controlled by this key.
    pub fn address(&self) -> Address {
        // `from_bytes` validated the scalar, so this cannot fail.
        self.signer().map(|s| s.address()).unwrap_or_default()
    }

    /// The raw secret bytes.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A signer for this key (the signer wipes its own copy on drop).
    pub(crate) fn signer(&self) -> Result<PrivateKeySigner> {
        PrivateKeySigner::from_slice(self.0.as_slice()).map_err(|_| KeystoreError::InvalidSecret {
            reason: "not a valid secp256k1 secret key (zero, or not below the curve order)",
        })
    }

    /// Generates a fresh random key from the operating system's CSPRNG.
    pub(crate) fn random() -> Self {
        use rand_08::RngCore;
        loop {
            let mut buf = Zeroizing::new([0u8; 32]);
            rand_08::rngs::OsRng.fill_bytes(buf.as_mut_slice());
            // Invalid scalars have probability ~2^-128; retry rather than bias the key.
            if PrivateKeySigner::from_slice(buf.as_slice()).is_ok() {
                return Self(buf);
            }
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}
