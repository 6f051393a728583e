//! Session keys at rest: each private key is sealed with XChaCha20-Poly1305 under the master key, with a fresh
//! random 24-byte nonce per seal and the key's id as associated data (a sealed key copied onto another row does
//! not open). The master key comes from a file or the environment; the database holds only a check value of
//! it, so a wrong master key is refused at start instead of failing at the first run.
//!
//! Rotation ([`rotate`]): every key is opened under the old master key and sealed under the new one in one
//! transaction. Losing the master key loses every key: the operator revokes the sessions on chain (the owner's
//! `revokeSession`/`revokeAll`) and creates new keys and grants; see `docs/service.md`.

use alloy::signers::local::PrivateKeySigner;
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::{ServiceError, storage::Storage};

/// Length of a master key.
pub const MASTER_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
/// The `meta` row holding the master key's check value.
pub const CHECK_META: &str = "master_key_check";

/// The master key (zeroed on drop; never printed).
pub struct MasterKey(Zeroizing<[u8; MASTER_KEY_LEN]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// A new random master key.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        rand::rng().fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// From 64 hex digits (an optional `0x` and surrounding whitespace allowed).
    pub fn from_hex(text: &str) -> Result<Self, ServiceError> {
        let text = Zeroizing::new(text.trim().trim_start_matches("0x").to_string());
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        hex::decode_to_slice(text.as_bytes(), bytes.as_mut()).map_err(|_| {
            ServiceError::Config(format!(
                "the master key must be {} hex digits ({MASTER_KEY_LEN} bytes)",
                MASTER_KEY_LEN * 2
            ))
        })?;
        Ok(Self(bytes))
    }

    /// Reads a master key file (64 hex digits).
    pub fn from_file(path: &std::path::Path) -> Result<Self, ServiceError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            ServiceError::Config(format!("cannot read the master key file {}: {e}", path.display()))
        })?);
        Self::from_hex(&text).map_err(|e| ServiceError::Config(format!("{}: {e}", path.display())))
    }

    /// Writes a new random master key to `path` (mode 0600, never overwriting) and returns it.
    pub fn create_file(path: &std::path::Path) -> Result<Self, ServiceError> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let key = Self::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(path).map_err(|e| {
            ServiceError::Config(format!("cannot create the master key file {}: {e}", path.display()))
        })?;
        let mut text = hex::encode(key.0.as_ref());
        let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all());
        text.zeroize();
        written.map_err(|e| ServiceError::Config(format!("cannot write {}: {e}", path.display())))?;
        Ok(key)
    }

    /// The value stored to recognise this master key: SHA-256 of a domain tag and the key (reveals nothing).
    pub fn check_value(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"warrant-service master key check v1");
        h.update(self.0.as_ref());
        hex::encode(h.finalize())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }

    /// Seals a 32-byte private key for the key row `id`: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, id: &str, secret: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()
            .encrypt(&XNonce::from(nonce), Payload { msg: secret, aad: id.as_bytes() })
            .map_err(|_| ServiceError::Internal("sealing a key failed".into()))?;
        Ok([nonce.as_slice(), &ciphertext].concat())
    }

    /// Opens what [`MasterKey::seal`] sealed for `id`; an error if the master key, the id or the bytes differ.
    pub fn open(&self, id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
        if sealed.len() <= NONCE_LEN {
            return Err(ServiceError::KeyUnavailable(format!("key {id} holds no secret (forgotten?)")));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
        self.cipher()
            .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: id.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| {
                ServiceError::KeyUnavailable(format!("key {id} does not open under this master key"))
            })
    }

    /// A new session key sealed for `id`: its address and sealed bytes. The secret never leaves this function.
    pub fn new_session_key(&self, id: &str) -> Result<(alloy::primitives::Address, Vec<u8>), ServiceError> {
        let signer = PrivateKeySigner::random();
        let secret = Zeroizing::new(signer.to_bytes().0);
        Ok((signer.address(), self.seal(id, secret.as_slice())?))
    }

    /// The signer of a sealed key.
    pub fn signer(&self, id: &str, sealed: &[u8]) -> Result<PrivateKeySigner, ServiceError> {
        let secret = self.open(id, sealed)?;
        PrivateKeySigner::from_slice(&secret)
            .map_err(|_| ServiceError::KeyUnavailable(format!("key {id} is not a valid secp256k1 key")))
    }
}

/// Checks the master key against the database's check value, storing it on first use. A different master key is
/// refused: the keys would not open.
pub async fn check_master_key(storage: &dyn Storage, master: &MasterKey) -> Result<(), ServiceError> {
    match storage.meta(CHECK_META).await? {
        Some(stored) if stored == master.check_value() => Ok(()),
        Some(_) => Err(ServiceError::Config(
            "the master key is not the one this database's keys are sealed with (rotate with `warrant-service \
             rotate-master-key`; a lost master key cannot be recovered, see docs/service.md)"
                .into(),
        )),
        None => {
            storage.set_meta(CHECK_META, &master.check_value()).await?;
            Ok(())
        }
    }
}

/// Re-seals every key under `new` (opened under `old`) in one transaction, and stores `new`'s check value. Keys
/// already forgotten stay empty. Returns how many keys were re-sealed.
pub async fn rotate(storage: &dyn Storage, old: &MasterKey, new: &MasterKey) -> Result<usize, ServiceError> {
    check_master_key(storage, old).await?;
    let mut sealed = Vec::new();
    for key in storage.keys().await? {
        if key.sealed.is_empty() {
            continue;
        }
        let secret = old.open(&key.id, &key.sealed)?;
        sealed.push((key.id.clone(), new.seal(&key.id, &secret)?));
    }
    storage.reseal(&sealed, &new.check_value()).await?;
    Ok(sealed.len())
}
