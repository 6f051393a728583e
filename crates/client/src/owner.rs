//! Owner operations: user operations the account's owner signs, to enable or revoke sessions.

use alloy::{
    primitives::{Address, B256, Bytes, U128, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolCall,
};
use warrant_chain::bundler::UserOperationReceipt;
use warrant_core::{
    CoreError, UserOperation,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    grant::{IWarrantValidator, Session},
    policy::Call,
    session_op::execute_single,
};

use crate::{Client, ClientError, StateReader};

/// The owner of an account, and how its account reads an owner operation.
#[derive(Clone, Copy, Debug)]
pub struct OwnerKey<'a> {
    /// The owner's key (it signs the `userOpHash`).
    pub key: &'a PrivateKeySigner,
    /// The account's implementation; `None`: read from its `accountId()`.
    pub account_kind: Option<AccountKind>,
    /// The account's validator that holds the owner's key, where the implementation needs it named (Nexus).
    pub owner_validator: Option<Address>,
}

impl<'a> OwnerKey<'a> {
    /// An owner key of an account whose implementation is read from the chain.
    pub fn new(key: &'a PrivateKeySigner) -> Self {
        Self { key, account_kind: None, owner_validator: None }
    }
}

impl Client {
    /// Runs `call_data` on `account` as an owner operation (the owner's ECDSA signature of the `userOpHash`,
    /// under the nonce key the account reads as its owner: key 0 on WarrantAccount and Kernel, the owner
    /// validator's on Nexus), with gas from the bundler ([`crate::ClientOptions::verification_gas_headroom`]), and waits for the receipt.
    pub async fn owner_op(
        &self,
        account: Address,
        owner: &OwnerKey<'_>,
        call_data: Bytes,
    ) -> Result<UserOperationReceipt, ClientError> {
        let bundler = self.bundler()?;
        let kind = self.account_kind(account, owner.account_kind).await?;
        let key = kind.adapter().owner_nonce_key(owner.owner_validator)?;
        let (max_fee, max_priority) = self.node.user_op_fees(bundler).await?;
        let mut op = UserOperation {
            sender: account,
            nonce: self.node.clone().entry_point_nonce(account, key).await?,
            call_data,
            call_gas_limit: U128::from(500_000),
            verification_gas_limit: U128::from(1_000_000),
            pre_verification_gas: U256::from(100_000),
            max_fee_per_gas: U128::from(max_fee),
            max_priority_fee_per_gas: U128::from(max_priority),
            ..Default::default()
        };
        let chain_id = self.chain_id();
        let sign = |op: &UserOperation| -> Result<Bytes, ClientError> {
            let hash = op.hash(ENTRY_POINT_V08, chain_id, None)?;
            let signature = owner.key.sign_hash_sync(&hash).map_err(|e| CoreError::Signing(e.to_string()))?;
            Ok(signature.as_bytes().into())
        };
        // Sign over placeholder limits, estimate, apply the estimate (with headroom) and sign again.
        op.signature = sign(&op)?;
        bundler.estimate_user_operation_gas(&op).await?.apply(&mut op);
        op.verification_gas_limit = op
            .verification_gas_limit
            .saturating_mul(U128::from(self.options.verification_gas_headroom.max(1)));
        op.signature = sign(&op)?;
        let hash = bundler.send_user_operation(&op).await?;
        self.wait(hash, self.options.receipt_timeout).await
    }

    /// Enables `session` on `account` from the owner (static delegation: `enableSession` on the module).
    pub async fn enable(
        &self,
        account: Address,
        module: Address,
        session: &Session,
        owner: &OwnerKey<'_>,
    ) -> Result<UserOperationReceipt, ClientError> {
        let data = IWarrantValidator::enableSessionCall { session: session.clone() }.abi_encode();
        self.module_call(account, module, data, owner).await
    }

    /// Revokes session `id` of `account` (works for a grant not yet presented too: it can then never enable).
    pub async fn revoke(
        &self,
        account: Address,
        module: Address,
        id: B256,
        owner: &OwnerKey<'_>,
    ) -> Result<UserOperationReceipt, ClientError> {
        let data = IWarrantValidator::revokeSessionCall { id }.abi_encode();
        self.module_call(account, module, data, owner).await
    }

    /// Revokes every session and every unpresented grant of `account` at `module` (a new epoch).
    pub async fn revoke_all(
        &self,
        account: Address,
        module: Address,
        owner: &OwnerKey<'_>,
    ) -> Result<UserOperationReceipt, ClientError> {
        let data = IWarrantValidator::revokeAllCall {}.abi_encode();
        self.module_call(account, module, data, owner).await
    }

    /// Why revoking session `id` of `account` at `module` would change nothing, read from the chain before any
    /// gas is spent: [`Denial::SessionRevoked`] when it is revoked already, [`Denial::GrantEpochStale`] when
    /// `grant_epoch` (the grant's, if known) is not the account's epoch any more (every session of it ended with
    /// `revokeAll`). `None` when a revocation would take effect.
    ///
    /// [`Denial::SessionRevoked`]: warrant_core::policy::Denial::SessionRevoked
    /// [`Denial::GrantEpochStale`]: warrant_core::policy::Denial::GrantEpochStale
    pub async fn revocation_needless(
        &self,
        account: Address,
        module: Address,
        id: B256,
        grant_epoch: Option<u64>,
    ) -> Result<Option<warrant_core::policy::Denial>, ClientError> {
        use warrant_core::policy::{Denial, SessionStatus};
        let mut node = self.node.clone();
        if let Some(grant_epoch) = grant_epoch {
            let current = node.epoch(module, account).await?;
            if current != U256::from(grant_epoch) {
                return Ok(Some(Denial::GrantEpochStale { grant_epoch, current_epoch: current }));
            }
        }
        let state = node.view(module, IWarrantValidator::sessionStateCall { account, id }).await?;
        Ok(match SessionStatus::from_u8(state.status) {
            Some(SessionStatus::Revoked) => Some(Denial::SessionRevoked { id }),
            _ => None,
        })
    }

    async fn module_call(
        &self,
        account: Address,
        module: Address,
        data: Vec<u8>,
        owner: &OwnerKey<'_>,
    ) -> Result<UserOperationReceipt, ClientError> {
        let call_data = execute_single(&Call { target: module, value: U256::ZERO, data });
        self.owner_op(account, owner, call_data).await
    }
}
