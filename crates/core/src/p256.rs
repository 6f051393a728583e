//! P-256 (secp256r1) session keys: a key the page holds as a non-extractable WebCrypto key (or any P-256 signer),
//! verified on chain by the EIP-7951 `P256VERIFY` precompile at `0x100` (Osaka).
//!
//! A session's `signer` stays a 20-byte address. For a P-256 key it is the key's **identifier**
//! ([`P256Key::signer`]): `address(uint160(uint256(keccak256(abi.encodePacked(uint8(kind), x, y)))))`, which commits
//! to the kind, so a key enabled in one mode can't sign in the other. Its session signature is 129 bytes,
//! `kind(1) ‖ x(32) ‖ y(32) ‖ r(32) ‖ s(32)` with `s` in the low half ([`P256Key::session_signature`]); the validator
//! recomputes the identifier from `kind ‖ x ‖ y` and compares it with the session's signer.
//!
//! What is signed ([`P256Kind::message`], [`P256Kind::prehash`]), for the 32-byte session digest `d`
//! ([`crate::grant::use_digest`], [`crate::grant::enable_digest`]):
//!
//! | kind | the signer is given | the ECDSA message hash `e` |
//! |---|---|---|
//! | 1 raw | `d`, as a prehashed message | `d` |
//! | 2 WebCrypto | `d`, as the data of `crypto.subtle.sign({name: "ECDSA", hash: "SHA-256"}, key, d)` | `sha256(d)` |

use ::p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use ::p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256, uint};
use sha2::{Digest, Sha256};

use crate::CoreError;

/// The length of a P-256 session signature: `kind ‖ x ‖ y ‖ r ‖ s`.
pub const P256_SESSION_SIGNATURE_LEN: usize = 129;

/// The order `n` of the P-256 group.
pub const P256_N: U256 = uint!(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551_U256);

/// `floor(n / 2)`: the largest `s` the validator accepts (OpenZeppelin's `P256` refuses any above).
pub const P256_HALF_N: U256 = uint!(0x7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8_U256);

/// How a P-256 session key signs, and so what message hash the validator checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum P256Kind {
    /// Signs the 32-byte session digest itself as the ECDSA message hash (a prehash signer: a hardware key, a
    /// Rust `p256` key).
    Raw = 1,
    /// WebCrypto ECDSA with SHA-256, which hashes its input itself: the page passes the 32-byte digest as the
    /// data, and the message hash is `sha256(digest)`. ERC-7895 calls this signer "webcrypto-p256".
    WebCrypto = 2,
}

impl P256Kind {
    /// The kind byte, first of the session signature and of the identifier's preimage.
    pub fn byte(self) -> u8 {
        self as u8
    }

    /// The kind a byte names, if any (1 raw, 2 WebCrypto).
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Raw),
            2 => Some(Self::WebCrypto),
            _ => None,
        }
    }

    /// Its name in plain words: "raw" or "WebCrypto".
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::WebCrypto => "WebCrypto",
        }
    }

    /// What the key's signing API is given for the session digest `digest`: the 32 digest bytes in both kinds —
    /// as the prehashed message of a raw signer, and as the data of WebCrypto's `crypto.subtle.sign` (which
    /// hashes it with SHA-256 before signing). [`P256Kind::prehash`] is the hash the signature is then over.
    pub fn message(self, digest: B256) -> Vec<u8> {
        digest.to_vec()
    }

    /// The ECDSA message hash the validator verifies for `digest`: `digest` (raw) or `sha256(digest)`
    /// (WebCrypto).
    pub fn prehash(self, digest: B256) -> B256 {
        match self {
            Self::Raw => digest,
            Self::WebCrypto => B256::from_slice(&Sha256::digest(digest.as_slice())),
        }
    }
}

impl std::fmt::Display for P256Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A P-256 session key's public key and kind: what the session's signer identifies and every session signature
/// carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct P256Key {
    /// How it signs.
    pub kind: P256Kind,
    /// The affine x coordinate, big-endian.
    pub x: B256,
    /// The affine y coordinate, big-endian.
    pub y: B256,
}

impl P256Key {
    /// A key from its coordinates; refuses a point that is not on the curve (or the point at infinity, or a
    /// coordinate not below the field prime).
    pub fn new(kind: P256Kind, x: B256, y: B256) -> Result<Self, CoreError> {
        let key = Self { kind, x, y };
        key.verifying_key()?;
        Ok(key)
    }

    /// A key from its 65-byte uncompressed SEC1 encoding `0x04 ‖ x ‖ y` (what WebCrypto's
    /// `exportKey("raw", publicKey)` returns); refuses any other length or prefix and a point not on the curve.
    pub fn from_uncompressed(kind: P256Kind, bytes: &[u8]) -> Result<Self, CoreError> {
        if bytes.len() != 65 {
            return Err(CoreError::InvalidP256Key(format!(
                "an uncompressed public key has 65 bytes (0x04 ‖ x ‖ y), not {}",
                bytes.len()
            )));
        }
        if bytes[0] != 0x04 {
            return Err(CoreError::InvalidP256Key(format!(
                "an uncompressed public key starts with 0x04, not {:#04x}",
                bytes[0]
            )));
        }
        Self::new(kind, B256::from_slice(&bytes[1..33]), B256::from_slice(&bytes[33..65]))
    }

    /// The 65-byte uncompressed SEC1 encoding `0x04 ‖ x ‖ y`.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = 0x04;
        out[1..33].copy_from_slice(self.x.as_slice());
        out[33..].copy_from_slice(self.y.as_slice());
        out
    }

    /// The key's identifier, the session's `signer`: the low 20 bytes of `keccak256(kind ‖ x ‖ y)` (65 bytes).
    pub fn signer(&self) -> Address {
        let mut pre = [0u8; 65];
        pre[0] = self.kind.byte();
        pre[1..33].copy_from_slice(self.x.as_slice());
        pre[33..].copy_from_slice(self.y.as_slice());
        Address::from_word(keccak256(pre))
    }

    /// The 129-byte session signature `kind ‖ x ‖ y ‖ r ‖ s` from a signature's two halves (WebCrypto returns
    /// `r ‖ s`, 64 bytes). `s` is normalised to the low half (`n − s` when above `n/2`), the only form the
    /// validator accepts; `r` or `s` of 0 or not below `n` are refused.
    pub fn session_signature(&self, r: &[u8; 32], s: &[u8; 32]) -> Result<Bytes, CoreError> {
        let r_int = U256::from_be_bytes(*r);
        let mut s_int = U256::from_be_bytes(*s);
        for (name, v) in [("r", r_int), ("s", s_int)] {
            if v.is_zero() || v >= P256_N {
                return Err(CoreError::InvalidP256Signature(format!(
                    "{name} must be in [1, n − 1] (n the P-256 group order), not {v:#x}"
                )));
            }
        }
        if s_int > P256_HALF_N {
            s_int = P256_N - s_int;
        }
        let mut out = Vec::with_capacity(P256_SESSION_SIGNATURE_LEN);
        out.push(self.kind.byte());
        out.extend_from_slice(self.x.as_slice());
        out.extend_from_slice(self.y.as_slice());
        out.extend_from_slice(r);
        out.extend_from_slice(&s_int.to_be_bytes::<32>());
        Ok(out.into())
    }

    /// Whether (`r`, `s`) is this key's signature of the session digest `digest` as the validator checks it:
    /// `r`, `s` in [1, n − 1], `s ≤ n/2`, over [`P256Kind::prehash`]`(digest)`.
    pub fn verifies(&self, digest: B256, r: &[u8; 32], s: &[u8; 32]) -> bool {
        let s_int = U256::from_be_bytes(*s);
        if s_int > P256_HALF_N {
            return false;
        }
        let Ok(key) = self.verifying_key() else { return false };
        // from_scalars refuses 0 and values not below n.
        let Ok(signature) = Signature::from_scalars(*r, *s) else { return false };
        key.verify_prehash(self.kind.prehash(digest).as_slice(), &signature).is_ok()
    }

    fn verifying_key(&self) -> Result<VerifyingKey, CoreError> {
        let point = ::p256::EncodedPoint::from_affine_coordinates(&self.x.0.into(), &self.y.0.into(), false);
        VerifyingKey::from_encoded_point(&point).map_err(|_| {
            CoreError::InvalidP256Key(format!("({}, {}) is not a point on the P-256 curve", self.x, self.y))
        })
    }

    /// Reads the key a 129-byte session signature carries, with `r` and `s`; `None` for another length or kind
    /// (points off the curve are returned too: [`P256Key::verifies`] refuses them).
    pub fn parse_session_signature(signature: &[u8]) -> Option<(Self, [u8; 32], [u8; 32])> {
        if signature.len() != P256_SESSION_SIGNATURE_LEN {
            return None;
        }
        let kind = P256Kind::from_byte(signature[0])?;
        let word = |i: usize| -> [u8; 32] { signature[i..i + 32].try_into().expect("32 bytes") };
        let key = Self { kind, x: B256::from(word(1)), y: B256::from(word(33)) };
        Some((key, word(65), word(97)))
    }
}

/// The P-256 signer a 129-byte session signature proves for `digest`, as the validator derives it: the identifier
/// of the key it carries when the signature verifies, else `None` (another length, an unknown kind, a point off
/// the curve, `r` or `s` out of range, a high `s`, or a signature of another message).
pub fn p256_session_signer(digest: B256, signature: &[u8]) -> Option<Address> {
    let (key, r, s) = P256Key::parse_session_signature(signature)?;
    key.verifies(digest, &r, &s).then(|| key.signer())
}

/// A P-256 private key that signs session digests as `kind` (for tests, the bench and native clients; a page uses
/// a non-extractable WebCrypto key instead). Its `Debug` shows the public key only.
#[derive(Clone)]
pub struct P256Signer {
    kind: P256Kind,
    key: SigningKey,
}

impl std::fmt::Debug for P256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P256Signer").field("key", &self.key()).finish_non_exhaustive()
    }
}

impl P256Signer {
    /// A signer from a 32-byte big-endian secret scalar; refuses 0 and values not below `n`.
    pub fn from_bytes(kind: P256Kind, secret: &[u8; 32]) -> Result<Self, CoreError> {
        let key = SigningKey::from_bytes(secret.into())
            .map_err(|_| CoreError::InvalidP256Key("the secret scalar must be in [1, n − 1]".into()))?;
        Ok(Self { kind, key })
    }

    /// Its kind.
    pub fn kind(&self) -> P256Kind {
        self.kind
    }

    /// Its public key.
    pub fn key(&self) -> P256Key {
        let point = self.key.verifying_key().to_encoded_point(false);
        let x = B256::from_slice(point.x().expect("an uncompressed point has x"));
        let y = B256::from_slice(point.y().expect("an uncompressed point has y"));
        P256Key { kind: self.kind, x, y }
    }

    /// Its identifier, the session's signer ([`P256Key::signer`]).
    pub fn signer(&self) -> Address {
        self.key().signer()
    }

    /// Signs the session digest `digest` as its kind does (over [`P256Kind::prehash`], RFC 6979 nonces) and
    /// returns the 129-byte session signature.
    pub fn sign_digest(&self, digest: B256) -> Result<Bytes, CoreError> {
        let signature: Signature = self
            .key
            .sign_prehash(self.kind.prehash(digest).as_slice())
            .map_err(|e| CoreError::Signing(e.to_string()))?;
        let (r, s) = signature.split_bytes();
        self.key().session_signature(&r.into(), &s.into())
    }
}

/// A session signature for gas estimation, in the shape of a real one of `kind`: a valid signature of `digest`
/// by a fixed throwaway key, so the validator runs the precompile once, as it will for the real signature, and
/// fails the signature (the throwaway key's identifier is not the session's signer). A dummy with a wrong `r`/`s`
/// would cost a second precompile call (OpenZeppelin checks the precompile is there) and over-estimate.
pub fn estimation_signature(kind: P256Kind, digest: B256) -> Result<Bytes, CoreError> {
    let secret = keccak256("warrant: P-256 estimation key (never a session key)");
    P256Signer::from_bytes(kind, &secret.0)?.sign_digest(digest)
}
