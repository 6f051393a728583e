//! EIP-7702: signing and checking authorizations, the delegation designator, the nonce arithmetic of the
//! temporary mode (delegate, act, restore the EOA), and the restore transaction that ends the EOA's sessions.

use alloy_eip7702::constants::SECP256K1N_HALF;
pub use alloy_eip7702::{Authorization, SignedAuthorization};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::{Decodable, Encodable, Header};
use alloy_signer::SignerSync;
use alloy_sol_types::SolCall;

use crate::{
    CoreError,
    constants::{CREATE2_DEPLOYER, EIP7702_DELEGATION_PREFIX},
    grant::IWarrantValidator,
};

/// Whether an authorization may use chain id 0, which makes it valid on every chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChainScope {
    /// Only the chain it names (the safe default).
    #[default]
    ThisChainOnly,
    /// Chain id 0 is allowed: the authorization can be replayed on every EVM chain.
    AnyChain,
}

/// An unsigned authorization, refusing chain id 0 unless `scope` is [`ChainScope::AnyChain`].
pub fn authorization(
    chain_id: u64,
    delegate: Address,
    nonce: u64,
    scope: ChainScope,
) -> Result<Authorization, CoreError> {
    if chain_id == 0 && scope != ChainScope::AnyChain {
        return Err(CoreError::AnyChainAuthorizationRefused);
    }
    if nonce == u64::MAX {
        // EIP-7702 requires nonce < 2^64 - 1.
        return Err(CoreError::AuthorizationNonceTooLarge);
    }
    Ok(Authorization { chain_id: U256::from(chain_id), address: delegate, nonce })
}

/// Signs `auth` with `signer` over `keccak256(0x05 ‖ rlp([chain_id, address, nonce]))`.
pub fn sign_authorization<S: SignerSync + ?Sized>(
    signer: &S,
    auth: Authorization,
) -> Result<SignedAuthorization, CoreError> {
    let signature =
        signer.sign_hash_sync(&auth.signature_hash()).map_err(|e| CoreError::Signing(e.to_string()))?;
    Ok(auth.into_signed(signature))
}

/// The authority (the EOA) that signed `auth`; refuses high-s signatures as EIP-7702 does.
pub fn recover_authority(auth: &SignedAuthorization) -> Result<Address, CoreError> {
    if auth.s() > SECP256K1N_HALF {
        return Err(CoreError::HighS);
    }
    auth.recover_authority().map_err(|e| CoreError::InvalidAuthorization(e.to_string()))
}

/// Decodes the RLP of one signed tuple `[chain_id, address, nonce, y_parity, r, s]`, refusing trailing bytes.
pub fn decode_signed_authorization(mut rlp: &[u8]) -> Result<SignedAuthorization, CoreError> {
    let auth =
        SignedAuthorization::decode(&mut rlp).map_err(|e| CoreError::InvalidAuthorization(e.to_string()))?;
    if !rlp.is_empty() {
        return Err(CoreError::InvalidAuthorization(format!("{} trailing bytes after the tuple", rlp.len())));
    }
    Ok(auth)
}

/// The RLP of a signed tuple.
pub fn encode_signed_authorization(auth: &SignedAuthorization) -> Vec<u8> {
    alloy_rlp::encode(auth)
}

/// The code an account delegated to `delegate` has: `0xef0100 ‖ delegate` (23 bytes).
pub fn delegation_designator(delegate: Address) -> [u8; 23] {
    let mut code = [0u8; 23];
    code[..3].copy_from_slice(&EIP7702_DELEGATION_PREFIX);
    code[3..].copy_from_slice(delegate.as_slice());
    code
}

/// The delegate named by `code`, if `code` is a delegation designator.
pub fn parse_delegation_designator(code: &[u8]) -> Option<Address> {
    (code.len() == 23 && code[..3] == EIP7702_DELEGATION_PREFIX).then(|| Address::from_slice(&code[3..]))
}

/// Checks that `code`, read from `delegate`, is something an EOA can usefully delegate to.
///
/// Refuses the zero address (that clears a delegation: use [`reset_authorization`]), an address without
/// code (nothing would run, and a contract could be deployed there later), and a delegated account (EIP-7702
/// does not follow chains of delegations). What the code *does* is the caller's to judge: show it to the user.
pub fn check_delegate_code(delegate: Address, code: &[u8]) -> Result<(), CoreError> {
    if delegate == Address::ZERO {
        return Err(CoreError::DelegateIsZero);
    }
    if code.is_empty() {
        return Err(CoreError::DelegateHasNoCode { delegate });
    }
    if parse_delegation_designator(code).is_some() {
        return Err(CoreError::DelegateIsDelegated { delegate });
    }
    if delegate == CREATE2_DEPLOYER {
        return Err(CoreError::DelegateIsDeployer);
    }
    Ok(())
}

/// The tuple nonce of an authorization carried in a transaction the authority sends itself: the sender's
/// nonce is bumped before the authorization list is processed, so it is the transaction's nonce + 1.
pub fn self_sponsored_tuple_nonce(tx_nonce: u64) -> u64 {
    tx_nonce + 1
}

/// Temporary mode: the nonce the zero-address reset authorization must carry so that it becomes valid right
/// after the session. `current_nonce` is the EOA's nonce before delegating; `self_sponsored` says whether the
/// EOA sends the delegating type-4 transaction itself (which costs it a nonce besides the tuple's);
/// `own_transactions` is how many transactions the EOA will send itself during the session (user operations
/// use the EntryPoint's nonces, not the EOA's, so a session of user operations adds none).
pub fn reset_nonce(current_nonce: u64, self_sponsored: bool, own_transactions: u64) -> u64 {
    current_nonce + 1 + u64::from(self_sponsored) + own_transactions
}

/// The zero-address authorization that restores the plain EOA; signed up front, anyone can broadcast it.
pub fn reset_authorization(chain_id: u64, nonce: u64) -> Result<Authorization, CoreError> {
    authorization(chain_id, Address::ZERO, nonce, ChainScope::ThisChainOnly)
}

/// Gas limit of the restore transaction: 21,000 intrinsic, 25,000 for the tuple, the calldata, and `revokeAll`
/// (a cold call and an epoch SSTORE, at most ~25,000 from zero). Unused gas is not charged.
pub const RESTORE_GAS_LIMIT: u64 = 120_000;

/// The EIP-2718 type of an EIP-7702 transaction.
pub const EIP7702_TX_TYPE: u8 = 0x04;

/// The fields of the restore transaction (spec G): the EOA sends, to the validator, `revokeAll()`, with the
/// zero-address authorization in the same signed transaction. Whoever broadcasts it clears the delegation and
/// ends every session of the validator at once: the authorization and the call can't be separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestoreTx {
    /// The chain (never 0: neither the tuple nor the transaction may be valid on every chain).
    pub chain_id: u64,
    /// The EOA's transaction nonce when the transaction is sent; the tuple carries `nonce + 1`.
    pub nonce: u64,
    /// EIP-1559 priority fee.
    pub max_priority_fee_per_gas: u128,
    /// EIP-1559 maximum fee (fixed once signed: a pre-signed restore waits while the base fee is above it).
    pub max_fee_per_gas: u128,
    /// Gas limit ([`RESTORE_GAS_LIMIT`] unless estimated).
    pub gas_limit: u64,
    /// The `WarrantValidator` whose sessions end (`revokeAll` bumps the account's epoch there).
    pub validator: Address,
}

/// A signed restore transaction, ready for `eth_sendRawTransaction`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRestoreTx {
    /// The fields it was built from.
    pub tx: RestoreTx,
    /// The EOA (the transaction's sender and the authorization's authority).
    pub account: Address,
    /// The EIP-2718 encoding: `0x04 ‖ rlp([..fields, y_parity, r, s])`.
    pub raw: Bytes,
    /// The transaction hash (`keccak256(raw)`).
    pub hash: B256,
}

/// `revokeAll()`: the restore transaction's calldata.
pub fn restore_calldata() -> Vec<u8> {
    IWarrantValidator::revokeAllCall {}.abi_encode()
}

/// Builds and signs the restore transaction of `signer`'s EOA: the zero-address authorization (self-sponsored,
/// tuple nonce = `tx.nonce + 1`) and the call `validator.revokeAll()`, in one type-4 transaction.
pub fn sign_restore_transaction<S: SignerSync + ?Sized>(
    signer: &S,
    tx: RestoreTx,
) -> Result<SignedRestoreTx, CoreError> {
    if tx.validator == Address::ZERO {
        return Err(CoreError::InvalidAuthorization(
            "the restore transaction needs the validator's address".into(),
        ));
    }
    if tx.nonce >= u64::MAX - 1 {
        return Err(CoreError::AuthorizationNonceTooLarge);
    }
    let auth = reset_authorization(tx.chain_id, self_sponsored_tuple_nonce(tx.nonce))?;
    let auth = sign_authorization(signer, auth)?;
    let account = recover_authority(&auth)?;
    let data = restore_calldata();

    let mut fields = Vec::new();
    encode_restore_fields(&tx, &data, &auth, &mut fields);
    let mut unsigned = vec![EIP7702_TX_TYPE];
    Header { list: true, payload_length: fields.len() }.encode(&mut unsigned);
    unsigned.extend_from_slice(&fields);
    let signature =
        signer.sign_hash_sync(&keccak256(&unsigned)).map_err(|e| CoreError::Signing(e.to_string()))?;

    signature.v().encode(&mut fields);
    signature.r().encode(&mut fields);
    signature.s().encode(&mut fields);
    let mut raw = vec![EIP7702_TX_TYPE];
    Header { list: true, payload_length: fields.len() }.encode(&mut raw);
    raw.extend_from_slice(&fields);
    let hash = keccak256(&raw);
    Ok(SignedRestoreTx { tx, account, raw: raw.into(), hash })
}

/// `chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas, gas_limit, destination, value, data,
/// access_list, authorization_list` (EIP-7702), without the list header.
fn encode_restore_fields(tx: &RestoreTx, data: &[u8], auth: &SignedAuthorization, out: &mut Vec<u8>) {
    tx.chain_id.encode(out);
    tx.nonce.encode(out);
    tx.max_priority_fee_per_gas.encode(out);
    tx.max_fee_per_gas.encode(out);
    tx.gas_limit.encode(out);
    tx.validator.encode(out);
    U256::ZERO.encode(out);
    data.encode(out);
    // An empty access list (an empty RLP list, not an empty string).
    Header { list: true, payload_length: 0 }.encode(out);
    alloy_rlp::encode_list::<SignedAuthorization, SignedAuthorization>(std::slice::from_ref(auth), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};

    #[test]
    fn designator_round_trip() {
        let d = address!("0x00000000000000000000000000000000000000aa");
        let code = delegation_designator(d);
        assert_eq!(&code[..3], &[0xef, 0x01, 0x00]);
        assert_eq!(parse_delegation_designator(&code), Some(d));
        assert_eq!(parse_delegation_designator(&code[..22]), None);
        let mut wrong = code;
        wrong[2] = 1;
        assert_eq!(parse_delegation_designator(&wrong), None);
    }

    #[test]
    fn chain_id_zero_needs_explicit_consent() {
        let d = Address::with_last_byte(1);
        assert_eq!(
            authorization(0, d, 0, ChainScope::ThisChainOnly),
            Err(CoreError::AnyChainAuthorizationRefused)
        );
        assert!(authorization(0, d, 0, ChainScope::AnyChain).is_ok());
        assert_eq!(
            authorization(1, d, u64::MAX, ChainScope::ThisChainOnly),
            Err(CoreError::AuthorizationNonceTooLarge)
        );
    }

    #[test]
    fn delegate_code_checks() {
        let d = Address::with_last_byte(1);
        assert_eq!(check_delegate_code(Address::ZERO, &[1]), Err(CoreError::DelegateIsZero));
        assert_eq!(check_delegate_code(d, &[]), Err(CoreError::DelegateHasNoCode { delegate: d }));
        assert_eq!(
            check_delegate_code(d, &delegation_designator(Address::with_last_byte(2))),
            Err(CoreError::DelegateIsDelegated { delegate: d })
        );
        assert_eq!(check_delegate_code(d, &[0x60, 0x00]), Ok(()));
    }

    #[test]
    fn temporary_mode_nonces() {
        // Relayed delegation: the tuple uses nonce n; the reset follows at n + 1.
        assert_eq!(reset_nonce(5, false, 0), 6);
        // Self-sponsored: the tx uses n, the tuple n + 1, so the reset needs n + 2.
        assert_eq!(self_sponsored_tuple_nonce(5), 6);
        assert_eq!(reset_nonce(5, true, 0), 7);
        assert_eq!(reset_nonce(5, true, 3), 10);
    }

    /// A raw k256 key as an alloy signer (core has no local-signer dependency).
    struct Key(alloy_signer::k256::ecdsa::SigningKey);

    impl SignerSync for Key {
        fn sign_hash_sync(&self, hash: &B256) -> alloy_signer::Result<alloy_primitives::Signature> {
            let (sig, recid) = self.0.sign_prehash_recoverable(hash.as_slice())?;
            Ok(alloy_primitives::Signature::from_signature_and_parity(sig, recid.is_y_odd()))
        }

        fn chain_id_sync(&self) -> Option<alloy_primitives::ChainId> {
            None
        }
    }

    #[test]
    fn restore_transaction_layout() {
        let key = b256!("0x947dd69af402e7f48da1b845dfc1df6be593d01a0d8274bd03ec56712e7164e8");
        let signer = Key(alloy_signer::k256::ecdsa::SigningKey::from_bytes(&key.0.into()).unwrap());
        let validator = Address::with_last_byte(0x77);
        let tx = RestoreTx {
            chain_id: 31337,
            nonce: 4,
            max_priority_fee_per_gas: 1,
            max_fee_per_gas: 2_000_000_000,
            gas_limit: RESTORE_GAS_LIMIT,
            validator,
        };
        let signed = sign_restore_transaction(&signer, tx).unwrap();
        assert_eq!(signed.raw[0], EIP7702_TX_TYPE);
        assert_eq!(signed.hash, keccak256(&signed.raw));
        // The payload is one RLP list of 13 items: 10 fields and the signature.
        let mut body = &signed.raw[1..];
        let header = Header::decode(&mut body).unwrap();
        assert!(header.list);
        assert_eq!(header.payload_length, body.len());
        assert_eq!(u64::decode(&mut body).unwrap(), 31337);
        assert_eq!(u64::decode(&mut body).unwrap(), 4);
        assert_eq!(u128::decode(&mut body).unwrap(), 1);
        assert_eq!(u128::decode(&mut body).unwrap(), 2_000_000_000);
        assert_eq!(u64::decode(&mut body).unwrap(), RESTORE_GAS_LIMIT);
        assert_eq!(Address::decode(&mut body).unwrap(), validator);
        assert_eq!(U256::decode(&mut body).unwrap(), U256::ZERO);
        assert_eq!(Bytes::decode(&mut body).unwrap().as_ref(), restore_calldata().as_slice());
        assert_eq!(body[0], 0xc0, "empty access list");
        body = &body[1..];
        let auths = Vec::<SignedAuthorization>::decode(&mut body).unwrap();
        assert_eq!(auths.len(), 1);
        assert_eq!(auths[0].address, Address::ZERO);
        assert_eq!(auths[0].nonce, 5, "self-sponsored: the tuple nonce is the transaction's + 1");
        assert_eq!(auths[0].chain_id, U256::from(31337));
        assert_eq!(recover_authority(&auths[0]).unwrap(), signed.account);
        assert_eq!(restore_calldata(), keccak256("revokeAll()")[..4].to_vec());

        let zero = RestoreTx { validator: Address::ZERO, ..tx };
        assert!(matches!(sign_restore_transaction(&signer, zero), Err(CoreError::InvalidAuthorization(_))));
        let any_chain = RestoreTx { chain_id: 0, ..tx };
        assert_eq!(
            sign_restore_transaction(&signer, any_chain),
            Err(CoreError::AnyChainAuthorizationRefused)
        );
    }

    #[test]
    fn high_s_is_refused() {
        let key = b256!("0x947dd69af402e7f48da1b845dfc1df6be593d01a0d8274bd03ec56712e7164e8");
        let signer = alloy_signer::k256::ecdsa::SigningKey::from_bytes(&key.0.into()).unwrap();
        let auth = authorization(1, Address::with_last_byte(7), 0, ChainScope::ThisChainOnly).unwrap();
        let (sig, recid) = signer.sign_prehash_recoverable(auth.signature_hash().as_slice()).unwrap();
        let low = alloy_primitives::Signature::from_signature_and_parity(sig, recid.is_y_odd());
        let signed = auth.clone().into_signed(low);
        let authority = recover_authority(&signed).unwrap();
        // The same signature with s' = n - s and the parity flipped recovers the same key: malleable, refused.
        let n = SECP256K1N_HALF * U256::from(2) + U256::from(1);
        let high = alloy_primitives::Signature::new(low.r(), n - low.s(), !low.v());
        let signed_high = auth.into_signed(high);
        assert_eq!(recover_authority(&signed_high), Err(CoreError::HighS));
        assert_ne!(authority, Address::ZERO);
    }
}
