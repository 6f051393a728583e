//! Grant tokens: a signed grant in one copy-pastable string, to move it between devices (the owner's wallet
//! signs, the session key's device uses). The format is specified in `docs/grant-token.md`:
//!
//! ```text
//! warrant1 ‖ base64url-no-padding( version ‖ chainId u64 ‖ module ‖ u32 len ‖ abi.encode(grant)
//!                                  ‖ signature kind ‖ u16 len ‖ signature ‖ [key kind ‖ x ‖ y] ‖ CRC-32 )
//! ```
//!
//! Version 3 has no key section; version 4 (written only for a grant that carries a P-256 session key) has one.
//!
//! Decoding is strict: every corruption is refused with an error naming it, and only the one canonical
//! encoding of a signed grant is accepted, so a token and the grant it carries correspond one to one.

use alloy_primitives::{Address, B256, Bytes};
use alloy_sol_types::{SolStruct, SolValue};
use base64::Engine as _;

use crate::grant::{Grant, validator_domain};
use crate::p256::{P256Key, P256Kind};

/// Every token starts with this (the `1` is the family's separator, not the payload version).
pub const TOKEN_PREFIX: &str = "warrant1";

/// The payload version this build writes for a grant without a P-256 session key (and reads). Version 2:
/// `ArgCondition` carries `argType`; version 3: `Scope` carries `gates`. An older token's grant no longer hashes
/// to what its owner signed, so it is refused by version.
pub const TOKEN_VERSION: u8 = 3;

/// The payload version this build writes for a grant that carries its P-256 session key ([`SignedGrant::
/// session_key`]), and reads: version 3 followed by the key section `kind ‖ x ‖ y` (65 bytes) before the
/// checksum. A grant without one is still written as version 3, which older builds read.
pub const TOKEN_VERSION_P256: u8 = 4;

/// Signature kind: a 65-byte ECDSA signature of [`Grant::erc7739_digest`], stored raw and expanded into the
/// ERC-7739 envelope ([`Grant::erc7739_signature`]) on decoding.
pub const SIG_KIND_ERC7739_ECDSA: u8 = 0;

/// Signature kind: the owner signature exactly as the validator receives it (any other signer, e.g. a
/// contract owner behind ERC-1271).
pub const SIG_KIND_OPAQUE: u8 = 1;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Why a grant token was refused (or could not be written).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The string does not start with [`TOKEN_PREFIX`].
    #[error("not a grant token: it must start with \"warrant1\"")]
    WrongPrefix,
    /// The part after the prefix is not unpadded base64url (RFC 4648 §5), or not its canonical form.
    #[error("grant token is not valid base64url without padding: {0}")]
    Base64(String),
    /// The payload is empty.
    #[error("grant token is empty after the \"warrant1\" prefix")]
    Empty,
    /// A version this build does not read.
    #[error(
        "unsupported grant token version {0} (this build reads versions 3 and 4; versions 1 and 2 predate \
         argument types and gates: sign the grant again)"
    )]
    UnsupportedVersion(u8),
    /// The payload ends before a field its lengths announce.
    #[error("grant token is truncated or corrupted: the {field} needs {needed} more bytes")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// How many bytes are missing.
        needed: usize,
    },
    /// The CRC-32 does not match: the token was altered or mistyped.
    #[error(
        "grant token checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the token was altered or mistyped"
    )]
    ChecksumMismatch {
        /// The checksum the token carries.
        stored: u32,
        /// The checksum of the bytes it covers.
        computed: u32,
    },
    /// Bytes after the checksum.
    #[error("grant token has {0} unexpected bytes after its checksum")]
    TrailingBytes(usize),
    /// The chain id is 0, which no grant can be signed for.
    #[error("grant token names chain id 0; a grant is signed for one real chain")]
    ZeroChainId,
    /// The module address is zero.
    #[error("grant token names the zero address as its validator module")]
    ZeroModule,
    /// The grant bytes do not ABI-decode as a `Grant`.
    #[error("the grant in the token does not ABI-decode: {0}")]
    GrantAbi(String),
    /// A field is valid but not in the one canonical form the encoder writes.
    #[error("grant token is not canonical: {0}")]
    NonCanonical(&'static str),
    /// A signature kind this build does not know.
    #[error("unknown owner signature kind {0} in grant token (known: 0 = ERC-7739 ECDSA, 1 = opaque)")]
    UnknownSignatureKind(u8),
    /// A compact ERC-7739 ECDSA signature whose length is not 65.
    #[error("grant token's ERC-7739 ECDSA owner signature has {0} bytes; it must have 65")]
    BadSignatureLength(usize),
    /// The P-256 session key the token carries is not a valid key of a known kind.
    #[error("the grant token's P-256 session key is invalid: {0}")]
    InvalidSessionKey(String),
    /// The P-256 session key the token carries is not the grant's session signer.
    #[error(
        "the grant token's P-256 session key has identifier {key_id}, but the grant's session signer is {signer}"
    )]
    SessionKeyMismatch {
        /// The grant's `session.signer`.
        signer: Address,
        /// The identifier of the key the token carries.
        key_id: Address,
    },
    /// A field too long for its length prefix.
    #[error("cannot encode a grant token: the {field} has {len} bytes, more than {max}")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The most its length prefix allows.
        max: usize,
    },
}

/// A grant with the owner's signature and what it is signed for: everything a session key's device needs
/// to present it in an ENABLE operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedGrant {
    /// The chain the grant is signed for (part of the validator's EIP-712 domain).
    pub chain_id: u64,
    /// The `WarrantValidator` the grant is signed for (the domain's verifying contract).
    pub module: Address,
    /// The grant.
    pub grant: Grant,
    /// The owner signature exactly as the validator receives it in ENABLE mode (for an ECDSA owner, the
    /// ERC-7739 envelope from [`Grant::erc7739_signature`]).
    pub owner_signature: Bytes,
    /// The session key's P-256 public key, when the session's signer is a P-256 identifier
    /// ([`P256Key::signer`]); `None` for a secp256k1 session key (or a P-256 one the token does not name). Set it
    /// with [`SignedGrant::with_session_key`], which checks it.
    pub session_key: Option<P256Key>,
}

impl SignedGrant {
    /// The grant carrying `key`, its P-256 session key; refuses a key whose identifier is not the session's
    /// signer.
    pub fn with_session_key(mut self, key: P256Key) -> Result<Self, TokenError> {
        if key.signer() != self.grant.session.signer {
            return Err(TokenError::SessionKeyMismatch {
                signer: self.grant.session.signer,
                key_id: key.signer(),
            });
        }
        self.session_key = Some(key);
        Ok(self)
    }

    /// The session id the grant enables (`sessionId(account, session)`).
    pub fn session_id(&self) -> B256 {
        self.grant.session.id(self.grant.account)
    }

    /// The EIP-712 digest the owner's account must accept (`grantDigest`).
    pub fn digest(&self) -> B256 {
        self.grant.eip712_signing_hash(&validator_domain(self.module, self.chain_id))
    }

    /// The raw 65-byte ECDSA signature inside the owner signature, if it is an ERC-7739 envelope of this
    /// grant (what [`Grant::erc7739_signature`] builds); `None` for any other signature.
    pub fn erc7739_ecdsa_signature(&self) -> Option<&[u8]> {
        let sig = self.owner_signature.get(..65)?;
        (self.grant.erc7739_signature(self.module, self.chain_id, sig) == self.owner_signature).then_some(sig)
    }

    /// The key that signed an ERC-7739 ECDSA owner signature (the EOA itself for an EIP-7702 account, the
    /// stored owner for a proxy account). `None` for other signatures or when nothing recovers.
    pub fn recover_owner(&self) -> Option<Address> {
        let raw = self.erc7739_ecdsa_signature()?;
        let signature = alloy_primitives::Signature::from_raw(raw).ok()?;
        signature.recover_address_from_prehash(&self.grant.erc7739_digest(self.module, self.chain_id)).ok()
    }

    /// The token: [`TOKEN_PREFIX`] followed by the unpadded base64url payload.
    pub fn to_token(&self) -> Result<String, TokenError> {
        let grant = self.grant.abi_encode();
        let grant_len = u32::try_from(grant.len()).map_err(|_| TokenError::TooLarge {
            field: "grant",
            len: grant.len(),
            max: u32::MAX as usize,
        })?;
        let (kind, signature): (u8, &[u8]) = match self.erc7739_ecdsa_signature() {
            Some(raw) => (SIG_KIND_ERC7739_ECDSA, raw),
            None => (SIG_KIND_OPAQUE, &self.owner_signature),
        };
        let sig_len = u16::try_from(signature.len()).map_err(|_| TokenError::TooLarge {
            field: "owner signature",
            len: signature.len(),
            max: u16::MAX as usize,
        })?;
        let mut payload = Vec::with_capacity(105 + grant.len() + signature.len());
        if let Some(key) = &self.session_key
            && key.signer() != self.grant.session.signer
        {
            return Err(TokenError::SessionKeyMismatch {
                signer: self.grant.session.signer,
                key_id: key.signer(),
            });
        }
        payload.push(if self.session_key.is_some() { TOKEN_VERSION_P256 } else { TOKEN_VERSION });
        payload.extend_from_slice(&self.chain_id.to_be_bytes());
        payload.extend_from_slice(self.module.as_slice());
        payload.extend_from_slice(&grant_len.to_be_bytes());
        payload.extend_from_slice(&grant);
        payload.push(kind);
        payload.extend_from_slice(&sig_len.to_be_bytes());
        payload.extend_from_slice(signature);
        if let Some(key) = &self.session_key {
            payload.push(key.kind.byte());
            payload.extend_from_slice(key.x.as_slice());
            payload.extend_from_slice(key.y.as_slice());
        }
        let checksum = CRC32.checksum(&payload);
        payload.extend_from_slice(&checksum.to_be_bytes());
        Ok(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)))
    }

    /// Decodes a token, refusing anything but the canonical encoding of a signed grant. Surrounding
    /// whitespace is not stripped: trim pasted input first.
    pub fn from_token(token: &str) -> Result<Self, TokenError> {
        let body = token.strip_prefix(TOKEN_PREFIX).ok_or(TokenError::WrongPrefix)?;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| TokenError::Base64(e.to_string()))?;
        let mut r = Reader { data: &payload, pos: 0 };
        let version = *payload.first().ok_or(TokenError::Empty)?;
        // The version comes first and is checked first: a later version may change everything after it.
        if version != TOKEN_VERSION && version != TOKEN_VERSION_P256 {
            return Err(TokenError::UnsupportedVersion(version));
        }
        r.take("version", 1)?;
        let chain_id = u64::from_be_bytes(r.array("chain id")?);
        let module = Address::from(r.array::<20>("module address")?);
        let grant_len = u32::from_be_bytes(r.array("grant length")?) as usize;
        let grant_bytes = r.take("grant", grant_len)?;
        let [kind] = r.array("signature kind")?;
        let sig_len = u16::from_be_bytes(r.array("signature length")?) as usize;
        let signature = r.take("owner signature", sig_len)?;
        let key_section = if version == TOKEN_VERSION_P256 {
            let [kind] = r.array("session key kind")?;
            let x = B256::from(r.array::<32>("session key x")?);
            let y = B256::from(r.array::<32>("session key y")?);
            Some((kind, x, y))
        } else {
            None
        };
        let covered = r.pos;
        let stored = u32::from_be_bytes(r.array("checksum")?);
        let computed = CRC32.checksum(&payload[..covered]);
        if stored != computed {
            return Err(TokenError::ChecksumMismatch { stored, computed });
        }
        if r.pos != payload.len() {
            return Err(TokenError::TrailingBytes(payload.len() - r.pos));
        }
        if chain_id == 0 {
            return Err(TokenError::ZeroChainId);
        }
        if module == Address::ZERO {
            return Err(TokenError::ZeroModule);
        }
        let grant = Grant::abi_decode(grant_bytes).map_err(|e| TokenError::GrantAbi(e.to_string()))?;
        if grant.abi_encode() != grant_bytes {
            return Err(TokenError::NonCanonical("the grant's ABI encoding is not the standard one"));
        }
        let owner_signature = match kind {
            SIG_KIND_ERC7739_ECDSA => {
                if signature.len() != 65 {
                    return Err(TokenError::BadSignatureLength(signature.len()));
                }
                grant.erc7739_signature(module, chain_id, signature)
            }
            SIG_KIND_OPAQUE => Bytes::copy_from_slice(signature),
            other => return Err(TokenError::UnknownSignatureKind(other)),
        };
        let session_key = match key_section {
            None => None,
            Some((kind, x, y)) => {
                let kind = P256Kind::from_byte(kind).ok_or_else(|| {
                    TokenError::InvalidSessionKey(format!(
                        "unknown kind {kind} (known: 1 = raw, 2 = WebCrypto)"
                    ))
                })?;
                let key =
                    P256Key::new(kind, x, y).map_err(|e| TokenError::InvalidSessionKey(e.to_string()))?;
                if key.signer() != grant.session.signer {
                    return Err(TokenError::SessionKeyMismatch {
                        signer: grant.session.signer,
                        key_id: key.signer(),
                    });
                }
                Some(key)
            }
        };
        let signed = Self { chain_id, module, grant, owner_signature, session_key };
        if kind == SIG_KIND_OPAQUE && signed.erc7739_ecdsa_signature().is_some() {
            return Err(TokenError::NonCanonical(
                "an ERC-7739 ECDSA owner signature must use the compact kind 0",
            ));
        }
        Ok(signed)
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], TokenError> {
        let rest = &self.data[self.pos..];
        if rest.len() < n {
            return Err(TokenError::Truncated { field, needed: n - rest.len() });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], TokenError> {
        let bytes = self.take(field, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
}
