//! EIP-7702: an EOA delegates to WarrantAccount (ending every earlier session and installing the validator in
//! the same transaction), and is restored to a plain EOA, by its own key or by a pre-signed restore transaction
//! anyone may broadcast.

use alloy::{
    consensus::{Transaction as _, TxEnvelope},
    eips::{Decodable2718, Encodable2718},
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder, TransactionBuilder7702},
    primitives::{Address, B256, Bytes, U256},
    rpc::types::{
        TransactionReceipt, TransactionRequest,
        state::{AccountOverride, StateOverride},
    },
    signers::local::PrivateKeySigner,
    sol,
    sol_types::SolCall,
};
use serde::{Deserialize, Serialize};
use warrant_core::{
    CoreError,
    eip7702::{self, ChainScope, RestoreTx},
    grant::IWarrantValidator,
    policy::Call,
    session_op::execute_batch,
};

use crate::{Client, ClientError, StateReader};

sol! {
    function installModule(uint256 moduleTypeId, address module, bytes initData);
    function isModuleInstalled(uint256 moduleTypeId, address module, bytes additionalContext)
        external view returns (bool);
}

/// ERC-7579 module type of a validator.
const MODULE_TYPE_VALIDATOR: u64 = 1;

/// The `kind` of a [`RestoreFile`].
pub const RESTORE_FILE_KIND: &str = "warrant-eip7702-restore";

/// A signed restore transaction and what it does: written by a temporary delegation, broadcast by anyone later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreFile {
    /// Always [`RESTORE_FILE_KIND`].
    pub kind: String,
    /// The EOA.
    pub account: Address,
    /// The chain.
    pub chain_id: u64,
    /// The validator whose sessions the transaction ends.
    pub validator: Address,
    /// The EOA nonce the transaction uses.
    pub nonce: u64,
    /// Its fixed maximum fee per gas.
    pub max_fee_per_gas: u128,
    /// The transaction hash.
    pub transaction_hash: B256,
    /// The EIP-2718 bytes for `eth_sendRawTransaction`.
    pub raw_transaction: Bytes,
}

impl RestoreFile {
    /// Parses a restore file and checks that its transaction is what the file says: a type-4 transaction from
    /// the file's account to its validator calling `revokeAll()`, whose only authorization is the account's own
    /// zero-address one for the next nonce.
    pub fn from_json(text: &str) -> Result<Self, ClientError> {
        let file: Self = serde_json::from_str(text).map_err(|e| {
            ClientError::Restore(format!(
                "not a restore transaction file (an older reset authorization? delegate again): {e}"
            ))
        })?;
        file.check()?;
        Ok(file)
    }

    fn check(&self) -> Result<(), ClientError> {
        let bad = |why: &str| Err(ClientError::Restore(why.into()));
        if self.kind != RESTORE_FILE_KIND {
            return Err(ClientError::Restore(format!(
                "kind {:?}, expected {RESTORE_FILE_KIND:?}",
                self.kind
            )));
        }
        let envelope = TxEnvelope::decode_2718(&mut self.raw_transaction.as_ref())
            .map_err(|e| ClientError::Restore(format!("the raw transaction does not decode: {e}")))?;
        let TxEnvelope::Eip7702(signed) = &envelope else {
            return bad("the raw transaction is not an EIP-7702 (type-4) transaction");
        };
        let sender = signed
            .signature()
            .recover_address_from_prehash(&signed.signature_hash())
            .map_err(|e| ClientError::Restore(format!("its signature does not recover: {e}")))?;
        let tx = signed.tx();
        let auth_ok = match tx.authorization_list().unwrap_or_default() {
            [auth] => {
                auth.address.is_zero()
                    && eip7702::recover_authority(auth).ok() == Some(self.account)
                    && auth.nonce == eip7702::self_sponsored_tuple_nonce(tx.nonce)
            }
            _ => false,
        };
        let checks = [
            (sender == self.account, "it is not sent by the file's account"),
            (tx.chain_id == self.chain_id, "its chain id is not the file's"),
            (tx.to == self.validator, "it does not call the file's validator"),
            (tx.input.as_ref() == eip7702::restore_calldata().as_slice(), "it does not call revokeAll()"),
            (tx.value.is_zero(), "it sends value"),
            (tx.nonce == self.nonce, "its nonce is not the file's"),
            (
                auth_ok,
                "its authorization list is not the account's own zero-address authorization for nonce + 1",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, why)) => bad(why),
            None => Ok(()),
        }
    }
}

/// What [`Client::delegate`] did.
#[derive(Clone, Debug)]
pub struct Delegation {
    /// The type-4 transaction's receipt.
    pub receipt: TransactionReceipt,
    /// Whether the EOA's code now designates the delegate.
    pub delegated: bool,
    /// Whether the validator was installed before (a module set survives a reset); `None` without a module.
    pub module_was_installed: Option<bool>,
    /// The restore transaction, signed for the nonce right after the delegation (temporary mode, and only when
    /// the delegation happened).
    pub restore: Option<RestoreFile>,
}

impl Delegation {
    /// Whether the transaction succeeded and the EOA delegates.
    pub fn succeeded(&self) -> bool {
        self.receipt.status() && self.delegated
    }
}

/// How [`Client::undelegate`] restores an EOA.
#[derive(Clone, Debug)]
pub enum Restore<'a> {
    /// Broadcast a pre-signed restore transaction (no key needed).
    Presigned(RestoreFile),
    /// The EOA's key signs a restore now: with `module`, the same transaction ends the validator's sessions
    /// (`revokeAll`); without, the sessions are kept and revive if the EOA delegates to WarrantAccount again.
    Sign {
        /// The EOA's key.
        eoa: &'a PrivateKeySigner,
        /// The validator whose sessions end.
        module: Option<Address>,
    },
}

/// What [`Client::undelegate`] did.
#[derive(Clone, Debug)]
pub struct Undelegation {
    /// The EOA.
    pub account: Address,
    /// The transaction's receipt.
    pub receipt: TransactionReceipt,
    /// Whether the EOA has no code now.
    pub restored: bool,
    /// The validator whose sessions were to end.
    pub validator: Option<Address>,
    /// The account's epoch there after the transaction.
    pub epoch: Option<U256>,
    /// Whether the epoch moved (every session ended).
    pub sessions_ended: bool,
}

impl Undelegation {
    /// Whether the EOA is plain again and, when a validator was named, its sessions ended.
    pub fn succeeded(&self) -> bool {
        self.receipt.status() && self.restored && (self.validator.is_none() || self.sessions_ended)
    }
}

impl Client {
    /// Delegates `eoa` to `delegate` (WarrantAccount's implementation) with a self-sponsored type-4
    /// transaction. With `module`, the same transaction ends every earlier session there (`revokeAll`, on the
    /// new code) and installs it unless the account's surviving module set has it. `temporary` (needs
    /// `module`) also signs the restore transaction for the nonce after the delegation.
    pub async fn delegate(
        &self,
        eoa: &PrivateKeySigner,
        delegate: Address,
        module: Option<Address>,
        temporary: bool,
    ) -> Result<Delegation, ClientError> {
        if temporary && module.is_none() {
            return Err(ClientError::Unsupported(
                "a temporary delegation needs the validator whose sessions its restore ends".into(),
            ));
        }
        let delegate_code = self.node.code(delegate).await?;
        eip7702::check_delegate_code(delegate, &delegate_code)?;
        let account = eoa.address();
        let tx_nonce = self.node.transaction_count(account).await?;
        // The sender is the authority: the tuple's nonce is the transaction's + 1.
        let auth = eip7702::authorization(
            self.chain_id(),
            delegate,
            eip7702::self_sponsored_tuple_nonce(tx_nonce),
            ChainScope::ThisChainOnly,
        )?;
        let auth = eip7702::sign_authorization(eoa, auth)?;
        // After the delegation the EOA's nonce is tx_nonce + 2 (the transaction and its own tuple).
        let restore = match (temporary, module) {
            (true, Some(validator)) => {
                Some(self.restore_transaction(eoa, validator, eip7702::reset_nonce(tx_nonce, true, 0)).await?)
            }
            _ => None,
        };
        let mut module_was_installed = None;
        let data: Bytes = match module {
            Some(module) => {
                let installed = self.module_installed(account, delegate, module).await?;
                module_was_installed = Some(installed);
                let mut calls = vec![Call {
                    target: module,
                    value: U256::ZERO,
                    data: IWarrantValidator::revokeAllCall {}.abi_encode(),
                }];
                if !installed {
                    let install = installModuleCall {
                        moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
                        module,
                        initData: Bytes::new(),
                    };
                    calls.push(Call { target: account, value: U256::ZERO, data: install.abi_encode() });
                }
                execute_batch(&calls)
            }
            None => Bytes::new(),
        };
        let tx = TransactionRequest::default()
            .with_from(account)
            .with_to(account)
            .with_input(data)
            .with_authorization_list(vec![auth]);
        let receipt = self.node.send_transaction(eoa, tx).await?;
        let delegated =
            eip7702::parse_delegation_designator(&self.node.code(account).await?) == Some(delegate);
        // The restore exists only for a delegation that happened.
        let restore = restore.filter(|_| receipt.status() && delegated).map(|restore| RestoreFile {
            kind: RESTORE_FILE_KIND.into(),
            account,
            chain_id: self.chain_id(),
            validator: restore.tx.validator,
            nonce: restore.tx.nonce,
            max_fee_per_gas: restore.tx.max_fee_per_gas,
            transaction_hash: restore.hash,
            raw_transaction: restore.raw,
        });
        Ok(Delegation { receipt, delegated, module_was_installed, restore })
    }

    /// The contract `account` delegates to (its EIP-7702 designator), `None` for a plain EOA (no code); an error
    /// for an account whose code is a contract's own, which no authorization can restore.
    pub async fn delegation_of(&self, account: Address) -> Result<Option<Address>, ClientError> {
        let code = self.node.code(account).await?;
        if code.is_empty() {
            return Ok(None);
        }
        warrant_core::eip7702::parse_delegation_designator(&code).map(Some).ok_or_else(|| {
            ClientError::Unsupported(format!(
                "{account} is a contract ({} bytes of code), not a delegated EOA: there is nothing to restore",
                code.len()
            ))
        })
    }

    /// Restores an EOA to a plain one (a zero-address authorization), as `how` says.
    pub async fn undelegate(&self, how: Restore<'_>) -> Result<Undelegation, ClientError> {
        let (account, raw, validator) = match how {
            Restore::Presigned(file) => {
                self.check_chain("the restore transaction", file.chain_id)?;
                (file.account, file.raw_transaction, Some(file.validator))
            }
            Restore::Sign { eoa, module } => {
                let nonce = self.node.transaction_count(eoa.address()).await?;
                match module {
                    Some(validator) => {
                        let restore = self.restore_transaction(eoa, validator, nonce).await?;
                        (eoa.address(), restore.raw, Some(validator))
                    }
                    None => (eoa.address(), self.plain_reset(eoa, nonce).await?, None),
                }
            }
        };
        let mut node = self.node.clone();
        let epoch_before = match validator {
            Some(v) => Some(node.epoch(v, account).await?),
            None => None,
        };
        let receipt = self.node.send_raw_transaction(&raw).await?;
        let restored = self.node.code(account).await?.is_empty();
        let epoch = match validator {
            Some(v) => Some(node.epoch(v, account).await?),
            None => None,
        };
        let sessions_ended = matches!((epoch_before, epoch), (Some(b), Some(a)) if a > b);
        Ok(Undelegation { account, receipt, restored, validator, epoch, sessions_ended })
    }

    /// Whether `module` is installed on `account`, reading the account's storage through `delegate`'s code (the
    /// EOA may have no code yet, while its storage, and so its module set, survives a reset).
    async fn module_installed(
        &self,
        account: Address,
        delegate: Address,
        module: Address,
    ) -> Result<bool, ClientError> {
        let code = self.node.code(delegate).await?;
        let mut overrides = StateOverride::default();
        overrides.insert(account, AccountOverride { code: Some(code), ..Default::default() });
        let call = isModuleInstalledCall {
            moduleTypeId: U256::from(MODULE_TYPE_VALIDATOR),
            module,
            additionalContext: Bytes::new(),
        };
        let tx = TransactionRequest::default().with_to(account).with_input(call.abi_encode());
        let out = alloy::providers::Provider::call(self.node.provider(), tx)
            .overrides(overrides)
            .await
            .map_err(|e| self.node.error("eth_call", e))?;
        isModuleInstalledCall::abi_decode_returns(&out).map_err(|e| {
            ClientError::Chain(warrant_chain::ChainError::Decode(format!("isModuleInstalled: {e}")))
        })
    }

    /// Signs the restore transaction of `eoa` for `nonce`, with a maximum fee with room for the base fee to
    /// triple (a pre-signed transaction can't raise it later).
    async fn restore_transaction(
        &self,
        eoa: &PrivateKeySigner,
        validator: Address,
        nonce: u64,
    ) -> Result<eip7702::SignedRestoreTx, ClientError> {
        let (max_fee, max_priority) = self.node.fees().await?;
        let tx = RestoreTx {
            chain_id: self.chain_id(),
            nonce,
            max_priority_fee_per_gas: max_priority,
            max_fee_per_gas: max_fee.saturating_mul(3).max(max_priority),
            gas_limit: eip7702::RESTORE_GAS_LIMIT,
            validator,
        };
        Ok(eip7702::sign_restore_transaction(eoa, tx)?)
    }

    /// The zero-address authorization alone, in a transaction of the EOA to itself (sessions kept).
    async fn plain_reset(&self, eoa: &PrivateKeySigner, nonce: u64) -> Result<Bytes, ClientError> {
        let reset =
            eip7702::reset_authorization(self.chain_id(), eip7702::self_sponsored_tuple_nonce(nonce))?;
        let auth = eip7702::sign_authorization(eoa, reset)?;
        let (max_fee, max_priority) = self.node.fees().await?;
        let tx = TransactionRequest::default()
            .with_from(eoa.address())
            .with_to(eoa.address())
            .with_nonce(nonce)
            .with_chain_id(self.chain_id())
            .with_gas_limit(eip7702::RESTORE_GAS_LIMIT)
            .with_max_fee_per_gas(max_fee)
            .with_max_priority_fee_per_gas(max_priority)
            .with_authorization_list(vec![auth]);
        let envelope = tx
            .build(&EthereumWallet::from(eoa.clone()))
            .await
            .map_err(|e| CoreError::Signing(e.to_string()))?;
        Ok(envelope.encoded_2718().into())
    }
}
