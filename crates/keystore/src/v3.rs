//! Writing Web3 Secret Storage v3 key files at the standard scrypt cost.
//!
//! eth-keystore 0.5 encrypts with a fixed n = 2^13 (`DEFAULT_KDF_PARAMS_LOG_N`), a thirty-second of geth's
//! standard n = 2^18. New keys are written here with the same RustCrypto crates eth-keystore uses (scrypt,
//! AES-128-CTR, Keccak-256 MAC) in the same format, at n = 2^18 (unless the keystore was told otherwise), r = 8, p = 1; decryption stays eth-keystore's,
//! which reads any n (so files written at 2^13 by earlier versions still open).

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy::{hex, primitives::keccak256};
use zeroize::Zeroizing;

use crate::{error::KeystoreError, secret::SecretKey};

/// scrypt's r for new keys.
pub(crate) const SCRYPT_R: u32 = 8;
/// scrypt's p for new keys.
pub(crate) const SCRYPT_P: u32 = 1;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// The key file's JSON for `secret` encrypted with `password` (with geth's top-level `address`).
pub(crate) fn encrypt(
    secret: &SecretKey,
    password: &[u8],
    log_n: u8,
) -> Result<serde_json::Value, KeystoreError> {
    let mut rng = rand_08::rngs::OsRng;
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    let mut id = [0u8; 16];
    rand_08::RngCore::fill_bytes(&mut rng, &mut salt);
    rand_08::RngCore::fill_bytes(&mut rng, &mut iv);
    rand_08::RngCore::fill_bytes(&mut rng, &mut id);

    let params = scrypt::Params::new(log_n, SCRYPT_R, SCRYPT_P)
        .map_err(|e| KeystoreError::io("scrypt", std::io::Error::other(e.to_string())))?;
    let mut derived = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &params, &mut *derived)
        .map_err(|e| KeystoreError::io("scrypt", std::io::Error::other(e.to_string())))?;

    let mut ciphertext = Zeroizing::new(*secret.as_bytes());
    let mut cipher = Aes128Ctr::new(derived[..16].into(), (&iv).into());
    cipher.apply_keystream(&mut *ciphertext);
    let mut mac_input = Vec::with_capacity(48);
    mac_input.extend_from_slice(&derived[16..32]);
    mac_input.extend_from_slice(&*ciphertext);
    let mac = keccak256(&mac_input);

    // A random (version 4) UUID, as the format's `id`.
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let h = hex::encode(id);
    let uuid = format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]);

    Ok(serde_json::json!({
        "address": hex::encode(secret.address()),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex::encode(iv) },
            "ciphertext": hex::encode(*ciphertext),
            "kdf": "scrypt",
            "kdfparams": {
                "dklen": 32,
                "n": 1u32 << log_n,
                "p": SCRYPT_P,
                "r": SCRYPT_R,
                "salt": hex::encode(salt),
            },
            "mac": hex::encode(mac),
        },
        "id": uuid,
        "version": 3,
    }))
}
