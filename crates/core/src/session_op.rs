//! Building session operations: the ERC-7579 `execute` calldata, the nonce that selects `WarrantValidator`,
//! the `userOpHash`, the session key's signature and the module signature (USE or ENABLE mode), and the
//! owner's ERC-7739 signature of a grant.
//!
//! ```text
//! SessionOp { account, module, chain_id, calls, gas, sequence, .. }
//!     .sign_use(&session, &session_key)        // session already enabled
//!     .sign_enable(&signed_grant, &session_key) // first operation carries the owner's grant
//! ```

use alloy_eip7702::SignedAuthorization;
use alloy_primitives::{Address, B256, Bytes, U128, U256, address, aliases::U192};
use alloy_signer::SignerSync;
use alloy_sol_types::{SolCall, SolValue, sol};

use crate::{
    CoreError, UserOperation,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    grant::{Grant, Session, enable_digest, enable_signature, session_signer, use_digest, use_signature},
    p256::P256Signer,
    policy::Call,
    token::SignedGrant,
};

sol! {
    /// One call of an ERC-7579 batch.
    #[derive(Debug, PartialEq, Eq)]
    struct Execution {
        address target;
        uint256 value;
        bytes callData;
    }

    /// ERC-7579 `execute(bytes32 mode, bytes executionCalldata)`.
    function execute(bytes32 mode, bytes executionCalldata);
}

/// The `factory` of an EIP-7702 sender's operation: the `0x7702` initCode marker, padded to 20 bytes.
pub const EIP7702_MARKER: Address = address!("0x7702000000000000000000000000000000000000");

/// ERC-7579 mode: single call, revert on failure.
pub const MODE_SINGLE: B256 = B256::ZERO;

/// ERC-7579 mode: batch, revert on failure.
pub const MODE_BATCH: B256 = {
    let mut mode = [0u8; 32];
    mode[0] = 0x01;
    B256::new(mode)
};

/// `execute(MODE_SINGLE, abi.encodePacked(target, value, data))`.
pub fn execute_single(call: &Call) -> Bytes {
    let mut ec = Vec::with_capacity(52 + call.data.len());
    ec.extend_from_slice(call.target.as_slice());
    ec.extend_from_slice(&call.value.to_be_bytes::<32>());
    ec.extend_from_slice(&call.data);
    executeCall { mode: MODE_SINGLE, executionCalldata: ec.into() }.abi_encode().into()
}

/// `execute(MODE_BATCH, abi.encode(Execution[]))`.
pub fn execute_batch(calls: &[Call]) -> Bytes {
    let batch: Vec<Execution> = calls
        .iter()
        .map(|c| Execution { target: c.target, value: c.value, callData: c.data.clone().into() })
        .collect();
    executeCall { mode: MODE_BATCH, executionCalldata: batch.abi_encode().into() }.abi_encode().into()
}

/// Single-call encoding for one call, batch for several; refuses an empty list.
pub fn execute_calldata(calls: &[Call]) -> Result<Bytes, CoreError> {
    match calls {
        [] => Err(CoreError::NoCalls),
        [call] => Ok(execute_single(call)),
        _ => Ok(execute_batch(calls)),
    }
}

/// The EntryPoint nonce key that selects `module`, followed by a 4-byte suffix free for parallel nonce sequences
/// (the period index travels in the module signature, not in the nonce). Ask
/// `EntryPoint.getNonce(account, key)` for the next sequence number. This is `WarrantAccount`'s layout; other accounts lay their keys out differently ([`AccountKind::nonce_key`]).
pub fn session_nonce_key(module: Address, key_suffix: u32) -> U192 {
    AccountKind::WarrantAccount.nonce_key(module, key_suffix).unwrap_or_default()
}

/// A paymaster and its gas fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paymaster {
    /// The paymaster contract.
    pub address: Address,
    /// Gas for its validation.
    pub verification_gas_limit: u128,
    /// Gas for its `postOp`.
    pub post_op_gas_limit: u128,
    /// Data for it.
    pub data: Bytes,
}

/// Gas and fee fields of an operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GasFields {
    /// Gas for the execution phase.
    pub call_gas_limit: u128,
    /// Gas for validation.
    pub verification_gas_limit: u128,
    /// Overhead paid to the bundler (include 25,000 for an EIP-7702 authorization).
    pub pre_verification_gas: u128,
    /// EIP-1559 maximum fee per gas.
    pub max_fee_per_gas: u128,
    /// EIP-1559 maximum priority fee per gas.
    pub max_priority_fee_per_gas: u128,
    /// The paymaster, if one sponsors the operation.
    pub paymaster: Option<Paymaster>,
}

/// An EIP-7702 sender: the operation carries the `0x7702` marker, so its hash binds `delegate`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eip7702Sender {
    /// The account's delegate (current, or the one `authorization` installs).
    pub delegate: Address,
    /// An authorization for the bundler to include (first operation of a not yet delegated EOA).
    pub authorization: Option<SignedAuthorization>,
}

/// A session operation to build and sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOp {
    /// The account (the sender).
    pub account: Address,
    /// The `WarrantValidator` module, installed on the account.
    pub module: Address,
    /// The chain.
    pub chain_id: u64,
    /// The account's implementation, which decides how the nonce key names the validator.
    pub account_kind: AccountKind,
    /// What the account executes: one call is encoded as a single execution, several as a batch.
    pub calls: Vec<Call>,
    /// Gas and fees.
    pub gas: GasFields,
    /// Nonce key suffix (0 unless several sequences run in parallel); it does not carry the period.
    pub key_suffix: u32,
    /// The period index the operation names (`policy::current_period` at send time); 0 for a session without a
    /// period. The session key signs it and the module signature carries it.
    pub period: u32,
    /// The next sequence number under the key (`EntryPoint.getNonce(account, session_nonce_key(..))`, low
    /// 64 bits).
    pub sequence: u64,
    /// Set for an EIP-7702 account to bind its delegate into the hash.
    pub eip7702: Option<Eip7702Sender>,
}

/// A signed operation and the hash its signature covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedOp {
    /// The operation, ready for `eth_sendUserOperation` (wire form) or `handleOps` (`op.pack()`).
    pub op: UserOperation,
    /// Its `userOpHash` under EntryPoint v0.8.
    pub hash: B256,
}

impl SessionOp {
    /// The operation with an empty signature.
    pub fn unsigned(&self) -> Result<UserOperation, CoreError> {
        let (factory, eip7702_auth) = match &self.eip7702 {
            Some(sender) => {
                if let Some(auth) = &sender.authorization {
                    if auth.address != sender.delegate {
                        return Err(CoreError::AuthorizationMismatch(format!(
                            "delegates to {}, not to {}",
                            auth.address, sender.delegate
                        )));
                    }
                    if auth.chain_id != U256::from(self.chain_id) && !auth.chain_id.is_zero() {
                        return Err(CoreError::AuthorizationMismatch(format!(
                            "is for chain {}, not {}",
                            auth.chain_id, self.chain_id
                        )));
                    }
                }
                (Some(EIP7702_MARKER), sender.authorization.clone())
            }
            None => (None, None),
        };
        let pm = self.gas.paymaster.as_ref();
        Ok(UserOperation {
            sender: self.account,
            nonce: self.account_kind.nonce(self.module, self.key_suffix, self.sequence)?,
            factory,
            factory_data: None,
            call_data: execute_calldata(&self.calls)?,
            call_gas_limit: U128::from(self.gas.call_gas_limit),
            verification_gas_limit: U128::from(self.gas.verification_gas_limit),
            pre_verification_gas: U256::from(self.gas.pre_verification_gas),
            max_fee_per_gas: U128::from(self.gas.max_fee_per_gas),
            max_priority_fee_per_gas: U128::from(self.gas.max_priority_fee_per_gas),
            paymaster: pm.map(|p| p.address),
            paymaster_verification_gas_limit: pm.map(|p| U128::from(p.verification_gas_limit)),
            paymaster_post_op_gas_limit: pm.map(|p| U128::from(p.post_op_gas_limit)),
            paymaster_data: pm.map(|p| p.data.clone()),
            signature: Bytes::new(),
            eip7702_auth,
        })
    }

    /// The `userOpHash` of `op` for this operation's chain (binding the 7702 delegate if any).
    pub fn hash(&self, op: &UserOperation) -> Result<B256, CoreError> {
        op.hash(ENTRY_POINT_V08, self.chain_id, self.eip7702.as_ref().map(|s| s.delegate))
    }

    /// The session digest a USE operation `op` (built by [`SessionOp::unsigned`], signature not read) asks the
    /// session key to sign: [`use_digest`]`(userOpHash, id, period)`. For an external signer (a WebCrypto key in
    /// a page): sign this, then [`SessionOp::with_use_signature`].
    pub fn use_digest_for(&self, session: &Session, op: &UserOperation) -> Result<B256, CoreError> {
        Ok(use_digest(self.hash(op)?, session.id(self.account), self.period))
    }

    /// The session digest an ENABLE operation `op` asks the session key to sign:
    /// [`enable_digest`]`(userOpHash, id, period, grantDigest)`. Refuses a grant for another account, module or
    /// chain.
    pub fn enable_digest_for(&self, grant: &SignedGrant, op: &UserOperation) -> Result<B256, CoreError> {
        self.check_grant_matches(grant)?;
        let id = grant.grant.session.id(self.account);
        Ok(enable_digest(self.hash(op)?, id, self.period, grant.grant.digest(self.module, self.chain_id)))
    }

    /// `op` signed in USE mode with `session_signature`, the raw session signature of
    /// [`SessionOp::use_digest_for`] (65-byte secp256k1 `r ‖ s ‖ v`, or the 129-byte P-256 form of
    /// [`crate::p256::P256Key::session_signature`]). Checks, as the validator will, that it proves the session's
    /// signer ([`session_signer`]): a wrong key or a malformed signature is refused here, not on chain.
    pub fn with_use_signature(
        &self,
        session: &Session,
        op: UserOperation,
        session_signature: &[u8],
    ) -> Result<SignedOp, CoreError> {
        let digest = self.use_digest_for(session, &op)?;
        check_session_signature(digest, session_signature, session.signer)?;
        self.attach_use(session, op, session_signature)
    }

    /// `op` signed in ENABLE mode: the owner's grant and `session_signature`, the raw session signature of
    /// [`SessionOp::enable_digest_for`], checked like [`SessionOp::with_use_signature`].
    pub fn with_enable_signature(
        &self,
        grant: &SignedGrant,
        op: UserOperation,
        session_signature: &[u8],
    ) -> Result<SignedOp, CoreError> {
        let digest = self.enable_digest_for(grant, &op)?;
        check_session_signature(digest, session_signature, grant.grant.session.signer)?;
        self.attach_enable(grant, op, session_signature)
    }

    /// [`SessionOp::with_use_signature`] without recovering the signature, for a key whose signer is derived from
    /// the secret that signed (an in-process key the caller matched to `session.signer`): its signatures prove
    /// it by construction, and recovering one costs more than making it. Anything else takes the checked path; a
    /// wrong signature here would only fail on chain (AA24).
    pub fn with_use_signature_of_derived_key(
        &self,
        session: &Session,
        op: UserOperation,
        session_signature: &[u8],
    ) -> Result<SignedOp, CoreError> {
        self.attach_use(session, op, session_signature)
    }

    /// [`SessionOp::with_enable_signature`] without recovering the signature, on the terms of
    /// [`SessionOp::with_use_signature_of_derived_key`]. The grant must still be for this account, module and chain.
    pub fn with_enable_signature_of_derived_key(
        &self,
        grant: &SignedGrant,
        op: UserOperation,
        session_signature: &[u8],
    ) -> Result<SignedOp, CoreError> {
        self.check_grant_matches(grant)?;
        self.attach_enable(grant, op, session_signature)
    }

    fn attach_enable(
        &self,
        grant: &SignedGrant,
        mut op: UserOperation,
        session_signature: &[u8],
    ) -> Result<SignedOp, CoreError> {
        let hash = self.hash(&op)?;
        op.signature = enable_signature(&grant.grant, self.period, &grant.owner_signature, session_signature);
        Ok(SignedOp { op, hash })
    }

    fn attach_use(
        &self,
        session: &Session,
        mut op: UserOperation,
        session_signature: &[u8],
    ) -> Result<SignedOp, CoreError> {
        op.signature = use_signature(session, self.period, session_signature);
        let hash = self.hash(&op)?;
        Ok(SignedOp { op, hash })
    }

    fn check_grant_matches(&self, grant: &SignedGrant) -> Result<(), CoreError> {
        let mismatch = |field, g: String, o: String| Err(CoreError::GrantMismatch { field, grant: g, op: o });
        if grant.grant.account != self.account {
            return mismatch("account", grant.grant.account.to_string(), self.account.to_string());
        }
        if grant.module != self.module {
            return mismatch("module", grant.module.to_string(), self.module.to_string());
        }
        if grant.chain_id != self.chain_id {
            return mismatch("chain id", grant.chain_id.to_string(), self.chain_id.to_string());
        }
        Ok(())
    }

    /// Signs in USE mode (the session is already enabled for the account) with a secp256k1 key: the session key
    /// signs [`use_digest`]`(userOpHash, id, period)` ([`SessionOp::use_digest_for`], then
    /// [`SessionOp::with_use_signature`]).
    pub fn sign_use<S: SignerSync + ?Sized>(
        &self,
        session: &Session,
        key: &S,
    ) -> Result<SignedOp, CoreError> {
        let op = self.unsigned()?;
        let digest = self.use_digest_for(session, &op)?;
        let sig = key.sign_hash_sync(&digest).map_err(|e| CoreError::Signing(e.to_string()))?;
        self.with_use_signature(session, op, &sig.as_bytes())
    }

    /// Signs in ENABLE mode with a secp256k1 key: the operation carries the owner's signed grant, which enables
    /// the session in the same validation; the session key signs [`enable_digest`]`(userOpHash, id, period,
    /// grantDigest)`. Refuses a grant for another account, module or chain.
    pub fn sign_enable<S: SignerSync + ?Sized>(
        &self,
        grant: &SignedGrant,
        key: &S,
    ) -> Result<SignedOp, CoreError> {
        let op = self.unsigned()?;
        let digest = self.enable_digest_for(grant, &op)?;
        let sig = key.sign_hash_sync(&digest).map_err(|e| CoreError::Signing(e.to_string()))?;
        self.with_enable_signature(grant, op, &sig.as_bytes())
    }

    /// [`SessionOp::sign_use`] with a P-256 key.
    pub fn sign_use_p256(&self, session: &Session, key: &P256Signer) -> Result<SignedOp, CoreError> {
        let op = self.unsigned()?;
        let sig = key.sign_digest(self.use_digest_for(session, &op)?)?;
        self.with_use_signature(session, op, &sig)
    }

    /// [`SessionOp::sign_enable`] with a P-256 key.
    pub fn sign_enable_p256(&self, grant: &SignedGrant, key: &P256Signer) -> Result<SignedOp, CoreError> {
        let op = self.unsigned()?;
        let sig = key.sign_digest(self.enable_digest_for(grant, &op)?)?;
        self.with_enable_signature(grant, op, &sig)
    }

    /// Signs in USE mode with a key checked once by [`SessionKey::new`]: the same operation as
    /// [`SessionOp::sign_use`] without its per-signature recovery check, which costs several signatures (for a
    /// session key that signs many operations).
    pub fn sign_use_checked<S: SignerSync + ?Sized>(
        &self,
        session: &Session,
        key: &SessionKey<'_, S>,
    ) -> Result<SignedOp, CoreError> {
        if key.address != session.signer {
            return Err(CoreError::SessionKeyMismatch { expected: session.signer, actual: key.address });
        }
        let op = self.unsigned()?;
        let digest = self.use_digest_for(session, &op)?;
        let sig = key.key.sign_hash_sync(&digest).map_err(|e| CoreError::Signing(e.to_string()))?;
        self.attach_use(session, op, &sig.as_bytes())
    }
}

/// Refuses a session signature that does not prove `expected` for `digest` as the validator derives signers
/// ([`session_signer`]): a wrong key would only fail on chain (AA24).
fn check_session_signature(digest: B256, signature: &[u8], expected: Address) -> Result<(), CoreError> {
    match session_signer(digest, signature) {
        Some(actual) if actual == expected => Ok(()),
        Some(actual) => Err(CoreError::SessionKeyMismatch { expected, actual }),
        None => Err(CoreError::BadSessionSignature {
            signer: expected,
            reason: match signature.len() {
                65 => "the secp256k1 signature does not recover (v not 27/28, s above n/2, or r, s out of range)"
                    .into(),
                crate::p256::P256_SESSION_SIGNATURE_LEN => "the P-256 signature does not verify (unknown kind, \
                    a point off the curve, r or s out of range, s above n/2, or another message)"
                    .into(),
                n => format!("{n} bytes: a session signature has 65 (secp256k1) or 129 (P-256)"),
            },
        }),
    }
}

/// A session key whose address was checked once: operations signed with it by
/// [`SessionOp::sign_use_checked`] skip the recovery check each signature would otherwise get.
pub struct SessionKey<'a, S: ?Sized> {
    key: &'a S,
    address: Address,
}

impl<S: ?Sized> std::fmt::Debug for SessionKey<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The address only: never the key.
        f.debug_struct("SessionKey").field("address", &self.address).finish_non_exhaustive()
    }
}

impl<'a, S: SignerSync + ?Sized> SessionKey<'a, S> {
    /// Checks that `key` signs as `signer` (one signature of a fixed digest, recovered); an error naming the
    /// key's actual address if not.
    pub fn new(key: &'a S, signer: Address) -> Result<Self, CoreError> {
        sign_as(key, &alloy_primitives::keccak256("warrant: session key check"), signer)?;
        Ok(Self { key, address: signer })
    }

    /// The checked address.
    pub fn address(&self) -> Address {
        self.address
    }
}

/// Signs `hash` and checks the signature recovers to `expected` (a wrong key would only fail on chain).
fn sign_as<S: SignerSync + ?Sized>(key: &S, hash: &B256, expected: Address) -> Result<[u8; 65], CoreError> {
    let signature = key.sign_hash_sync(hash).map_err(|e| CoreError::Signing(e.to_string()))?;
    let actual =
        signature.recover_address_from_prehash(hash).map_err(|e| CoreError::Signing(e.to_string()))?;
    if actual != expected {
        return Err(CoreError::SessionKeyMismatch { expected, actual });
    }
    Ok(signature.as_bytes())
}

/// What [`sign_grant`] and [`sign_grant_for`] refuse before signing: chain id 0, module, account or session key
/// 0, and a scope that fails [`Scope::validate`](crate::grant::Scope::validate).
fn check_grant(grant: &Grant, module: Address, chain_id: u64) -> Result<(), CoreError> {
    for (zero, field) in [
        (chain_id == 0, "the chain id is 0 (a grant binds one chain)"),
        (module == Address::ZERO, "the module is address 0"),
        (grant.account == Address::ZERO, "the account is address 0"),
        (grant.session.signer == Address::ZERO, "the session key is address 0 (no key recovers to it)"),
    ] {
        if zero {
            return Err(CoreError::InvalidGrant(field.into()));
        }
    }
    grant.session.scope.validate().map_err(CoreError::InvalidScope)?;
    Ok(())
}

/// The owner signs `grant` for `module` on `chain_id`: an ECDSA signature of the ERC-7739 digest
/// ([`Grant::erc7739_digest`]), wrapped in the ERC-7739 envelope the account checks. Refuses, before signing, a
/// grant the chain would refuse or that could never act: chain id 0, module, account or session key 0, and a scope
/// that fails [`Scope::validate`](crate::grant::Scope::validate).
pub fn sign_grant<S: SignerSync + ?Sized>(
    grant: Grant,
    module: Address,
    chain_id: u64,
    owner: &S,
) -> Result<SignedGrant, CoreError> {
    check_grant(&grant, module, chain_id)?;
    sign_grant_unchecked(grant, module, chain_id, owner)
}

/// [`sign_grant`] without its checks: signs whatever it is given (for tests of how the chain refuses a grant).
pub fn sign_grant_unchecked<S: SignerSync + ?Sized>(
    grant: Grant,
    module: Address,
    chain_id: u64,
    owner: &S,
) -> Result<SignedGrant, CoreError> {
    let digest = grant.erc7739_digest(module, chain_id);
    let raw = owner.sign_hash_sync(&digest).map_err(|e| CoreError::Signing(e.to_string()))?;
    let owner_signature = grant.erc7739_signature(module, chain_id, &raw.as_bytes());
    Ok(SignedGrant { chain_id, module, grant, owner_signature, session_key: None })
}

/// The owner of an account of `kind` signs `grant` for `module` on `chain_id`, wrapped as that account's
/// `isValidSignature` expects ([`crate::account::AccountAdapter`]); `owner_validator` is the validator holding the
/// owner's key on accounts that route ERC-1271 through one (Nexus, Kernel). Refuses what [`sign_grant`] refuses.
pub fn sign_grant_for<S: SignerSync + ?Sized>(
    kind: AccountKind,
    owner_validator: Option<Address>,
    grant: Grant,
    module: Address,
    chain_id: u64,
    owner: &S,
) -> Result<SignedGrant, CoreError> {
    check_grant(&grant, module, chain_id)?;
    let adapter = kind.adapter();
    let digest = adapter.grant_signing_digest(&grant, module, chain_id);
    let raw = owner.sign_hash_sync(&digest).map_err(|e| CoreError::Signing(e.to_string()))?;
    let owner_signature =
        adapter.wrap_grant_signature(&grant, module, chain_id, owner_validator, &raw.as_bytes())?;
    Ok(SignedGrant { chain_id, module, grant, owner_signature, session_key: None })
}
