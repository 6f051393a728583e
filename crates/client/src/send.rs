//! Sending a session operation: read the session, build the operation, pre-flight it, fit the bundler's gas
//! into the scope's caps, pre-flight the final operation, sign, submit, wait.

use std::time::Duration;

use alloy::primitives::{B256, Bytes, U256};
use warrant_chain::bundler::{UserOperationGasEstimate, UserOperationReceipt};
use warrant_core::{
    CoreError, UserOperation,
    account::AccountKind,
    grant::{self, Scope},
    policy::{Call, Denial, Presentation},
    session_op::{GasFields, SessionOp},
    token::SignedGrant,
};

use crate::{Basis, Client, ClientError, SessionSigner};

/// How to send a session operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// The account's implementation (decides the nonce key); `None`: read from its `accountId()`.
    pub account_kind: Option<AccountKind>,
    /// Sign and send even when the pre-flight denies the operation (to watch the bundler or the chain refuse
    /// it; for testing). The denial is kept in [`Prepared::denial`].
    pub force: bool,
    /// The nonce lane: the EntryPoint nonce key's suffix, one sequence per lane (0: the default lane). Senders
    /// that send for one account at once (a service with several session keys on it) give each its own lane, so
    /// they never race for a sequence. Accounts without lanes (Nexus) refuse any other than 0
    /// (`CoreError::NonceKeySuffix`).
    pub nonce_lane: u32,
}

/// A signed session operation, not yet sent, with what a caller records before sending it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The operation, signed.
    pub op: UserOperation,
    /// Its `userOpHash`: the bundler's receipt is looked up by it.
    pub hash: B256,
    /// Its EntryPoint nonce (key and sequence).
    pub nonce: U256,
    /// The period it names.
    pub period: u32,
    /// ENABLE (it carries the grant) or USE.
    pub presentation: Presentation,
    /// The pre-flight's denial, kept only when [`SendOptions::force`] signed the operation anyway.
    pub denial: Option<Denial>,
}

impl Client {
    /// Builds, checks and signs a session operation running `calls` under `grant`, signed by `key` (the grant's
    /// session key). The pre-flight runs on the estimation operation and again on the final one, so a refusal
    /// is [`ClientError::Denied`] before anything is signed; the gas limits come from the bundler, fitted into
    /// the scope's `maxGasLimit` and `maxFeePerGas`.
    pub async fn prepare<S: SessionSigner + ?Sized>(
        &self,
        grant: &SignedGrant,
        key: &S,
        calls: Vec<Call>,
        options: &SendOptions,
    ) -> Result<Prepared, ClientError> {
        // In the order they always were named: the chain, the bundler, then a wrong key, before the node is read
        // (`basis` checks the first two again, for its own callers).
        self.check_chain("the grant", grant.chain_id)?;
        self.bundler()?;
        check_key(grant, key)?;
        let basis = self.basis(grant, options).await?;
        Ok(self.prepare_on(&basis, grant, key, calls, options, None).await?.0)
    }

    /// [`Client::prepare`] on a [`Basis`] read earlier (no node reads), with the bundler's gas estimate of an
    /// earlier operation when `estimate` is given (else the bundler is asked). Answers the estimate it used, so
    /// a caller can keep it for operations of the same shape (`None`: the bundler gave none and
    /// [`SendOptions::force`] signed with plausible limits). The basis must be [`Client::basis`]'s for this
    /// grant, key and lane (a basis of another session or lane is refused).
    pub async fn prepare_on<S: SessionSigner + ?Sized>(
        &self,
        basis: &Basis,
        grant: &SignedGrant,
        key: &S,
        calls: Vec<Call>,
        options: &SendOptions,
        estimate: Option<UserOperationGasEstimate>,
    ) -> Result<(Prepared, Option<UserOperationGasEstimate>), ClientError> {
        self.check_chain("the grant", grant.chain_id)?;
        let (account, module) = (grant.grant.account, grant.module);
        let view = &basis.view;
        if view.account != account
            || view.module != module
            || view.session != grant.grant.session
            || basis.nonce_lane != options.nonce_lane
        {
            return Err(ClientError::Unsupported(
                "the basis was read for another session or nonce lane".into(),
            ));
        }
        check_key(grant, key)?;
        let scope = &grant.grant.session.scope;
        let presentation = view.presentation();
        // With `force`, the first denial is kept and the operation is signed anyway.
        let mut denial = None;
        // `Err` when the pre-flight's denial stops the operation (said in words below, where awaiting is possible).
        let mut deny = |d: Denial| -> Result<(), Denial> {
            if !options.force {
                return Err(d);
            }
            denial.get_or_insert(d);
            Ok(())
        };
        if presentation == Presentation::Enable
            && let Err(d) = view.check_grant_epoch(grant.grant.epoch).or_else(&mut deny)
        {
            return Err(self.denied(d, scope, &calls).await);
        }

        let account_kind = basis.account_kind;
        let mut builder = SessionOp {
            account,
            module,
            chain_id: self.chain_id(),
            account_kind,
            calls,
            gas: basis.initial_gas(),
            key_suffix: options.nonce_lane,
            period: view.period(),
            sequence: basis.sequence,
            // An already delegated EOA sends without the 0x7702 marker (docs/e2e.md).
            eip7702: None,
        };

        // 1. The estimation operation carries a dummy session signature that can't recover to the session key:
        //    the validator then skips the gas and fee caps (rule C.4) while every other rule runs, so the
        //    bundler can simulate with its own large limits. The EntryPoint would refuse it if sent. With an
        //    estimate given there is nothing to simulate: the final operation's pre-flight (below) runs every
        //    rule the estimation operation's would, and the caps too.
        let estimate = match estimate {
            Some(known) => Ok(known),
            None => {
                let mut estimation_op = builder.unsigned()?;
                estimation_op.signature = estimation_signature(&builder, presentation, grant, key)?;
                if let Err(d) = view.check(presentation, &estimation_op, false).map(|_| ()).or_else(&mut deny)
                {
                    return Err(self.denied(d, scope, &builder.calls).await);
                }
                self.bundler()?.estimate_user_operation_gas(&estimation_op).await
            }
        };

        // 2. Limits from the estimate, fitted into the session's caps; then the pre-flight of the final op.
        let fitted = match &estimate {
            Ok(estimate) => {
                fit_gas(&mut builder.gas, estimate, scope, self.options.verification_gas_headroom)
            }
            Err(_) => Ok(()),
        };
        let final_op = builder.unsigned()?;
        if let Err(d) =
            fitted.and_then(|()| view.check(presentation, &final_op, true).map(|_| ())).or_else(&mut deny)
        {
            return Err(self.denied(d, scope, &builder.calls).await);
        }
        let estimate = match estimate {
            Ok(estimate) => Some(estimate),
            // Forced: signed with the plausible limits, for the bundler or the chain to refuse.
            Err(_) if options.force => None,
            Err(e) => return Err(e.into()),
        };

        // 3. Sign for real. The builder checks the signature proves the session's signer, as the validator will,
        //    unless the key derives that signer itself (`check_key` matched it to the session's).
        let session = &grant.grant.session;
        let derived = key.derives_signer();
        let signed = match presentation {
            Presentation::Enable => {
                let signature = key.sign_digest(builder.enable_digest_for(grant, &final_op)?)?;
                if derived {
                    builder.with_enable_signature_of_derived_key(grant, final_op, &signature)?
                } else {
                    builder.with_enable_signature(grant, final_op, &signature)?
                }
            }
            Presentation::Use => {
                let signature = key.sign_digest(builder.use_digest_for(session, &final_op)?)?;
                if derived {
                    builder.with_use_signature_of_derived_key(session, final_op, &signature)?
                } else {
                    builder.with_use_signature(session, final_op, &signature)?
                }
            }
        };
        let prepared = Prepared {
            nonce: signed.op.nonce,
            op: signed.op,
            hash: signed.hash,
            period: builder.period,
            presentation,
            denial,
        };
        Ok((prepared, estimate))
    }

    /// Sends a prepared operation to the bundler (which simulates it under ERC-7562 before accepting it).
    /// Returns its `userOpHash`; a refusal is [`ClientError::Refused`] with the validator's rule when it has one.
    pub async fn submit(&self, prepared: &Prepared) -> Result<B256, ClientError> {
        Ok(self.bundler()?.send_user_operation(&prepared.op).await?)
    }

    /// Waits up to `timeout` for the receipt of operation `hash`.
    pub async fn wait(&self, hash: B256, timeout: Duration) -> Result<UserOperationReceipt, ClientError> {
        Ok(self.bundler()?.wait_for_receipt(hash, timeout).await?)
    }

    /// The receipt of operation `hash` if it was included, without waiting (`None` while it is not).
    pub async fn receipt(&self, hash: B256) -> Result<Option<UserOperationReceipt>, ClientError> {
        Ok(self.bundler()?.get_user_operation_receipt(hash).await?)
    }

    /// [`Client::prepare`], [`Client::submit`] and [`Client::wait`] (for [`crate::ClientOptions`]'s receipt
    /// timeout): the receipt of the included operation, whose `success` says whether its calls ran.
    pub async fn send<S: SessionSigner + ?Sized>(
        &self,
        grant: &SignedGrant,
        key: &S,
        calls: Vec<Call>,
        options: &SendOptions,
    ) -> Result<UserOperationReceipt, ClientError> {
        let prepared = self.prepare(grant, key, calls, options).await?;
        let hash = self.submit(&prepared).await?;
        self.wait(hash, self.options.receipt_timeout).await
    }
}

/// `SessionKeyMismatch` unless `key` is `grant`'s session key.
fn check_key<S: SessionSigner + ?Sized>(grant: &SignedGrant, key: &S) -> Result<(), ClientError> {
    if key.signer() != grant.grant.session.signer {
        let (expected, actual) = (grant.grant.session.signer, key.signer());
        return Err(CoreError::SessionKeyMismatch { expected, actual }.into());
    }
    Ok(())
}

/// A module signature for estimation: the layout of the real one (same length, so the same calldata gas), with
/// the key's estimation signature ([`SessionSigner::estimation_signature`]): well formed, by another key, so the
/// validator runs every check at a real signature's cost and then reports a signature failure.
fn estimation_signature<S: SessionSigner + ?Sized>(
    builder: &SessionOp,
    presentation: Presentation,
    grant: &SignedGrant,
    key: &S,
) -> Result<Bytes, ClientError> {
    let op = builder.unsigned()?;
    let session = &grant.grant.session;
    Ok(match presentation {
        Presentation::Use => {
            let sig = key.estimation_signature(builder.use_digest_for(session, &op)?)?;
            grant::use_signature(session, builder.period, &sig)
        }
        Presentation::Enable => {
            let sig = key.estimation_signature(builder.enable_digest_for(grant, &op)?)?;
            grant::enable_signature(&grant.grant, builder.period, &grant.owner_signature, &sig)
        }
    })
}

/// Sets `gas` from the bundler's estimate: verification gas with headroom (anvil's tracer under-reports a
/// returned call's gas, see docs/e2e.md), clamped so the sum stays within the session's `maxGasLimit`, and the
/// fee clamped to its `maxFeePerGas`. `GasLimitExceeded` when even the bare estimate does not fit.
pub(crate) fn fit_gas(
    gas: &mut GasFields,
    estimate: &UserOperationGasEstimate,
    scope: &Scope,
    headroom: u64,
) -> Result<(), Denial> {
    let sat = |v: U256| u128::try_from(v).unwrap_or(u128::MAX);
    let verification = sat(estimate.verification_gas_limit);
    gas.call_gas_limit = sat(estimate.call_gas_limit);
    gas.pre_verification_gas = sat(estimate.pre_verification_gas);
    gas.verification_gas_limit = verification.saturating_mul(u128::from(headroom.max(1)));
    if scope.maxGasLimit != 0 {
        let cap = scope.maxGasLimit;
        let others = gas.call_gas_limit.saturating_add(gas.pre_verification_gas);
        let bare = others.saturating_add(verification);
        if bare > cap {
            return Err(Denial::GasLimitExceeded { total: U256::from(bare), cap: U256::from(cap) });
        }
        gas.verification_gas_limit = gas.verification_gas_limit.min(cap - others);
    }
    if scope.maxFeePerGas != 0 {
        gas.max_fee_per_gas = gas.max_fee_per_gas.min(scope.maxFeePerGas);
        gas.max_priority_fee_per_gas = gas.max_priority_fee_per_gas.min(gas.max_fee_per_gas);
    }
    Ok(())
}
