//! Reading what the validator has counted for a session, in one place for every caller: the JSON-RPC node and
//! the in-process chain implement [`StateReader`], and [`SessionView`] holds one moment's reading together with
//! the one rule for the period an operation names.

use alloy::{
    primitives::{Address, B256, U256, aliases::U192},
    sol_types::SolCall,
};
use warrant_chain::DevChain;
use warrant_core::{
    IEntryPoint, UserOperation,
    constants::ENTRY_POINT_V08,
    grant::{IWarrantValidator, Scope, Session},
    policy::{self, Debit, Denial, OpCheck, Presentation, SessionStatus, SessionUsage},
};

use crate::{ClientError, node::Node};

/// What the validator and the EntryPoint hold for an account, read the way the validator reads it.
///
/// Implemented for a JSON-RPC [`Node`] and for the in-process [`DevChain`]; the provided methods build every
/// session read on the three required ones, so a counter is read the same way everywhere.
#[allow(async_fn_in_trait)]
pub trait StateReader {
    /// A read-only call of `call` on `to`, decoded.
    async fn view<C: SolCall>(&mut self, to: Address, call: C) -> Result<C::Return, ClientError>;

    /// The time the next operation is validated at (the latest block's timestamp).
    async fn now(&mut self) -> Result<u64, ClientError>;

    /// What `account` holds of each gate's token of `scope` (`None` where the token does not answer), read as
    /// `module` reads it.
    async fn holdings(
        &mut self,
        scope: &Scope,
        account: Address,
        module: Address,
    ) -> Result<Vec<Option<U256>>, ClientError>;

    /// What the validator has counted for session `id` of `account`: its state, its period and each of its
    /// `limits` spend limits.
    async fn session_usage(
        &mut self,
        module: Address,
        account: Address,
        id: B256,
        limits: usize,
    ) -> Result<SessionUsage, ClientError> {
        let state = self.view(module, IWarrantValidator::sessionStateCall { account, id }).await?;
        let period = self.view(module, IWarrantValidator::periodStateCall { account, id }).await?;
        let mut spends = Vec::with_capacity(limits);
        for i in 0..limits {
            let call = IWarrantValidator::spendStateCall { account, id, limitIndex: U256::from(i) };
            spends.push(self.view(module, call).await?);
        }
        SessionUsage::from_views(&state, &period, &spends)
            .ok_or_else(|| Node::fault("sessionState", format!("unknown session status {}", state.status)))
    }

    /// The account's epoch at the validator: grants of another epoch are revoked.
    async fn epoch(&mut self, module: Address, account: Address) -> Result<U256, ClientError> {
        self.view(module, IWarrantValidator::epochOfCall { account }).await
    }

    /// `EntryPoint.getNonce(account, key)`: the key in the top 192 bits, the next sequence in the low 64.
    async fn entry_point_nonce(&mut self, account: Address, key: U192) -> Result<U256, ClientError> {
        self.view(ENTRY_POINT_V08, IEntryPoint::getNonceCall { sender: account, key }).await
    }
}

impl StateReader for Node {
    async fn view<C: SolCall>(&mut self, to: Address, call: C) -> Result<C::Return, ClientError> {
        Node::view(self, to, call).await
    }

    /// The later of the latest block's timestamp and this machine's clock: the next operation lands in a later
    /// block (a node may not have mined for a while: anvil mines on demand), and a bundler judges an
    /// operation's window by its own clock.
    async fn now(&mut self) -> Result<u64, ClientError> {
        let wall =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Ok(Node::now(self).await?.max(wall))
    }

    async fn holdings(
        &mut self,
        scope: &Scope,
        account: Address,
        module: Address,
    ) -> Result<Vec<Option<U256>>, ClientError> {
        Ok(warrant_chain::gate::read_holdings(self.provider(), scope, account, module).await?)
    }
}

impl StateReader for DevChain {
    async fn view<C: SolCall>(&mut self, to: Address, call: C) -> Result<C::Return, ClientError> {
        Ok(self.call_sol(to, &call)?)
    }

    async fn now(&mut self) -> Result<u64, ClientError> {
        Ok(self.timestamp())
    }

    async fn holdings(
        &mut self,
        scope: &Scope,
        account: Address,
        _module: Address,
    ) -> Result<Vec<Option<U256>>, ClientError> {
        Ok(warrant_chain::gate::read_holdings_in(self, scope, account)?)
    }
}

/// One reading of a session: its counters, the gates' holdings, the account's epoch and the time. The
/// pre-flight of an operation ([`SessionView::check`]) and the status report both start from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// The account.
    pub account: Address,
    /// The `WarrantValidator` module.
    pub module: Address,
    /// The session.
    pub session: Session,
    /// Its id for the account.
    pub id: B256,
    /// What the validator has counted.
    pub usage: SessionUsage,
    /// What the account holds of each gate's token, in the scope's order.
    pub holdings: Vec<Option<U256>>,
    /// The account's epoch at the validator.
    pub epoch: U256,
    /// The time of the reading.
    pub now: u64,
}

impl SessionView {
    /// Reads `session` of `account` at `module` through `reader`.
    pub async fn read<R: StateReader>(
        reader: &mut R,
        module: Address,
        account: Address,
        session: &Session,
    ) -> Result<Self, ClientError> {
        let id = session.id(account);
        let usage = reader.session_usage(module, account, id, session.scope.limits.len()).await?;
        let holdings = reader.holdings(&session.scope, account, module).await?;
        let epoch = reader.epoch(module, account).await?;
        let now = reader.now().await?;
        Ok(Self { account, module, session: session.clone(), id, usage, holdings, epoch, now })
    }

    /// [`SessionView::read`] on the in-process chain, without an async runtime: its reads complete at once.
    pub fn read_in(
        chain: &mut DevChain,
        module: Address,
        account: Address,
        session: &Session,
    ) -> Result<Self, ClientError> {
        ready(Self::read(chain, module, account, session))
    }

    /// The period index an operation sent now names: the scope's current period, 0 for a scope without
    /// periods (or before its first period, where the validator refuses it with `PeriodNotStarted`). The
    /// session key signs it, so it is decided here and nowhere else.
    pub fn period(&self) -> u32 {
        policy::current_period(&self.session.scope, self.now).unwrap_or(0)
    }

    /// How the next operation presents the session: ENABLE (with its grant) until the validator has enabled
    /// it, USE after.
    pub fn presentation(&self) -> Presentation {
        if self.usage.status == SessionStatus::None { Presentation::Enable } else { Presentation::Use }
    }

    /// `GrantEpochStale` unless a grant of `grant_epoch` can still be presented (its epoch is the account's).
    pub fn check_grant_epoch(&self, grant_epoch: u64) -> Result<(), Denial> {
        if self.epoch == U256::from(grant_epoch) {
            Ok(())
        } else {
            Err(Denial::GrantEpochStale { grant_epoch, current_epoch: self.epoch })
        }
    }

    /// The pre-flight of `op` (naming [`SessionView::period`]) as the validator and the EntryPoint will judge
    /// it now: every rule of the scope, then the time window. `signature_valid: false` is the validator's
    /// estimation path (a dummy signature: gas and fee caps skipped).
    pub fn check(
        &self,
        presentation: Presentation,
        op: &UserOperation,
        signature_valid: bool,
    ) -> Result<Debit, Denial> {
        let packed = op.pack();
        let debit = policy::check_operation(&OpCheck {
            session_id: self.id,
            scope: &self.session.scope,
            usage: &self.usage,
            presentation,
            op: &packed,
            account: self.account,
            module: self.module,
            period: self.period(),
            signature_valid,
            holdings: &self.holdings,
        })?;
        policy::check_op_time(&debit, self.now)?;
        Ok(debit)
    }
}

/// [`StateReader::session_usage`] on the in-process chain, without an async runtime.
pub fn session_usage_in(
    chain: &mut DevChain,
    module: Address,
    account: Address,
    id: B256,
    limits: usize,
) -> Result<SessionUsage, ClientError> {
    ready(chain.session_usage(module, account, id, limits))
}

/// The output of a future that completes when first polled, as every read of the in-process chain does (it
/// never waits on I/O).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => unreachable!("a read of the in-process chain waited"),
    }
}
