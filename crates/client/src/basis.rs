//! What a prepare reads before it builds an operation, as one value: [`Basis`]. [`crate::Client::prepare`] reads
//! a basis and builds on it at once; a sender that prepares many operations of one session (the service) keeps
//! the basis while nothing can have changed it (the same block, nothing sent since), so a prepare costs no node
//! reads.

use alloy::primitives::{Address, U256};
use warrant_core::{account::AccountKind, policy::Presentation, session_op::GasFields, token::SignedGrant};

use crate::{Client, ClientError, SendOptions, SessionView};

/// One reading of everything an operation of a session is built from: the session's counters, gates and epoch
/// ([`SessionView`]), the account's kind, the nonce lane's next sequence, and the fees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Basis {
    /// The session as the validator holds it.
    pub view: SessionView,
    /// The account's implementation (decides the nonce key).
    pub account_kind: AccountKind,
    /// The nonce lane this basis is for.
    pub nonce_lane: u32,
    /// The lane's next sequence (the low 64 bits of `EntryPoint.getNonce`).
    pub sequence: u64,
    /// `(maxFeePerGas, maxPriorityFeePerGas)`.
    pub fees: (u128, u128),
}

impl Basis {
    /// The basis at time `now` (unix seconds): time rules and the period follow the clock, not the reading.
    pub fn at(&self, now: u64) -> Self {
        let mut basis = self.clone();
        basis.view.now = basis.view.now.max(now);
        basis
    }

    /// How the next operation presents the session.
    pub fn presentation(&self) -> Presentation {
        self.view.presentation()
    }

    /// The gas fields an operation built on this basis starts with, before the bundler's estimate: plausible
    /// limits (the bundler simulates with its own), this basis's fees.
    pub(crate) fn initial_gas(&self) -> GasFields {
        GasFields {
            call_gas_limit: 500_000,
            verification_gas_limit: 1_000_000,
            pre_verification_gas: 100_000,
            max_fee_per_gas: self.fees.0,
            max_priority_fee_per_gas: self.fees.1,
            paymaster: None,
        }
    }
}

impl Client {
    /// Reads the [`Basis`] of `grant`'s next operation in `options`' nonce lane. Refuses a grant for another
    /// chain and a grant that requires a paymaster ([`Client::prepare_on`] checks the key).
    pub async fn basis(&self, grant: &SignedGrant, options: &SendOptions) -> Result<Basis, ClientError> {
        self.check_chain("the grant", grant.chain_id)?;
        self.bundler()?;
        let scope = &grant.grant.session.scope;
        if scope.paymaster != Address::ZERO {
            return Err(ClientError::Unsupported(format!(
                "the grant requires paymaster {}; the client does not negotiate paymaster data yet",
                scope.paymaster
            )));
        }
        let (account, module) = (grant.grant.account, grant.module);
        let mut node = self.node.clone();
        let view = SessionView::read(&mut node, module, account, &grant.grant.session).await?;
        let account_kind = self.account_kind(account, options.account_kind).await?;
        let nonce_key = account_kind.nonce_key(module, options.nonce_lane)?;
        let nonce = crate::StateReader::entry_point_nonce(&mut node, account, nonce_key).await?;
        let fees = self.node.user_op_fees(self.bundler()?).await?;
        Ok(Basis {
            view,
            account_kind,
            nonce_lane: options.nonce_lane,
            // getNonce returns key ‖ sequence; the builder takes the sequence (the low 64 bits).
            sequence: (nonce & U256::from(u64::MAX)).to::<u64>(),
            fees,
        })
    }
}
