//! [`Executor`] on a node and an ERC-4337 bundler. Each run goes through `warrant-client`: [`Client::prepare`]
//! (the pre-flight on the final operation, then the signature, in the key's own nonce lane) and
//! [`Client::submit`]. Receipts come from the node's logs rather than the bundler's memory, and the bundler is
//! asked whether it holds an operation, both for reconciliation.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, U256, aliases::U192},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolCall,
    transports::http::reqwest::Url,
};
use async_trait::async_trait;
use warrant_chain::{
    ChainError,
    bundler::{self, BundlerErrorKind, UserOperationGasEstimate},
};
use warrant_client::{Basis, Client, ClientError, ClientOptions, SendOptions, SessionState};
use warrant_core::{
    IEntryPoint,
    account::AccountKind,
    constants::ENTRY_POINT_V08,
    grant::{NO_CAP, Scope},
    policy::{self, Call, Denial},
};

use super::{
    ExecError, Executor, LimitLeft, OpReceipt, Prepared, Session, SessionStatus,
    bases::{Bases, Kept, shape},
};

sol! {
    function accountId() external view returns (string);
}

/// A node and a bundler.
pub struct ChainExecutor {
    provider: DynProvider,
    /// Prepares (pre-flight, sign) and submits each run's operation.
    client: Client,
    /// The bundler's JSON-RPC, for the methods `BundlerClient` lacks.
    bundler_rpc: alloy::rpc::client::RpcClient,
    chain_id: u64,
    /// The first block searched for receipts.
    from_block: u64,
    kinds: Mutex<HashMap<Address, AccountKind>>,
    /// What is kept between prepares (`bases`' rule).
    bases: Bases,
}

impl std::fmt::Debug for ChainExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainExecutor").field("chain_id", &self.chain_id).finish_non_exhaustive()
    }
}

/// The time the next block will have, as near as we can tell from the latest one's: that, or the clock if it is
/// later (a node that mines on demand, like anvil, keeps an old timestamp until the next transaction).
fn next_block_time(latest: u64) -> u64 {
    latest.max(u64::try_from(crate::ids::now()).unwrap_or_default())
}

fn transient(e: impl std::fmt::Display) -> ExecError {
    ExecError::Transient(e.to_string())
}

/// A chain error: the bundler's refusals are [`ExecError::Rejected`] (with the rule when the validator named
/// one), everything else (connection, timeouts, node errors) transient.
fn chain_error(e: ChainError) -> ExecError {
    match e {
        ChainError::Bundler(refusal) => match refusal.kind {
            // Reputation and throttling pass with time.
            BundlerErrorKind::Reputation | BundlerErrorKind::Other(-32603) => {
                ExecError::Transient(refusal.to_string())
            }
            _ => ExecError::Rejected(match refusal.warrant_rule_name() {
                Some(rule) => format!("{rule} ({refusal})"),
                None => refusal.to_string(),
            }),
        },
        other => ExecError::Transient(other.to_string()),
    }
}

fn denied(denial: &Denial, refills_at: Option<u64>) -> ExecError {
    ExecError::Denied { rule: denial.name().to_string(), message: denial.to_string(), refills_at }
}

impl ChainExecutor {
    /// Connects to a node and a bundler serving EntryPoint v0.8 and checks they serve the same chain.
    pub async fn connect(rpc_url: Url, bundler_url: Url, timeout: Duration) -> Result<Self, ExecError> {
        let rpc = bundler::http_client(rpc_url.clone(), timeout).map_err(chain_error)?;
        let provider = ProviderBuilder::new().connect_client(rpc).erased();
        let chain_id = provider.get_chain_id().await.map_err(transient)?;
        let bundler_rpc = bundler::http_client(bundler_url.clone(), timeout).map_err(chain_error)?;
        // The client checks that the bundler serves the node's chain.
        let options = ClientOptions { request_timeout: timeout, ..ClientOptions::default() };
        let client = Client::connect(rpc_url, Some(bundler_url), options).await.map_err(|e| match e {
            ClientError::Chain(e) => chain_error(e),
            other => ExecError::Fatal(other.to_string()),
        })?;
        let bases = Bases::watch(provider.clone());
        Ok(Self {
            provider,
            client,
            bundler_rpc,
            chain_id,
            from_block: 0,
            kinds: Mutex::new(HashMap::new()),
            bases,
        })
    }

    /// Searches receipts from `block` on (the block the service's first operation could land in; 0 searches the
    /// whole chain, fine on a devnet, slow on a long chain).
    pub fn with_receipts_from(mut self, block: u64) -> Self {
        self.from_block = block;
        self
    }

    async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, ExecError> {
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        let out = self.provider.call(tx).await.map_err(transient)?;
        C::abi_decode_returns(&out).map_err(|e| transient(format!("undecodable answer from {to}: {e}")))
    }

    async fn kind(&self, account: Address) -> Result<AccountKind, ExecError> {
        if let Some(kind) = self.kinds.lock().expect("not poisoned").get(&account) {
            return Ok(*kind);
        }
        let id = self.view(account, accountIdCall {}).await?;
        let kind = AccountKind::from_account_id(&id).map_err(|e| ExecError::Fatal(e.to_string()))?;
        self.kinds.lock().expect("not poisoned").insert(account, kind);
        Ok(kind)
    }

    async fn nonce_key(&self, session: &Session) -> Result<U192, ExecError> {
        let kind = self.kind(session.grant.grant.account).await?;
        kind.nonce_key(session.grant.module, session.nonce_lane).map_err(|e| ExecError::Fatal(e.to_string()))
    }

    /// [`Client::prepare_on`] for `session`, with its errors as the worker sees them.
    async fn prepare_on(
        &self,
        basis: &Basis,
        known: Option<UserOperationGasEstimate>,
        session: &Session,
        calls: &[Call],
        options: &SendOptions,
    ) -> Result<(warrant_client::Prepared, Option<UserOperationGasEstimate>), ExecError> {
        let signed = &session.grant;
        match self.client.prepare_on(basis, signed, &session.signer, calls.to_vec(), options, known).await {
            Ok(done) => Ok(done),
            Err(e) => Err(self.client_error(e, &signed.grant.session.scope).await),
        }
    }

    /// A client error as the worker sees it: a denial (the pre-flight's, or the bundler's with the validator's
    /// rule) names its rule and, for a period cap, when it refills; a node or bundler failure is transient;
    /// the rest (wrong chain, a grant the client can't send for) can't be fixed by retrying.
    async fn client_error(&self, e: ClientError, scope: &Scope) -> ExecError {
        let denial = match e {
            ClientError::Denied { denial: d, .. } | ClientError::Refused { rule: Some(d), .. } => d,
            ClientError::Refused { rule: None, refusal } => {
                return chain_error(ChainError::Bundler(*refusal));
            }
            ClientError::Chain(e) => return chain_error(e),
            ClientError::UnknownAccount { .. } => return transient(e),
            other => return ExecError::Fatal(other.to_string()),
        };
        let refills_at = match self.now().await {
            Ok(now) => refill_time(&denial, scope, now),
            Err(_) => None,
        };
        denied(&denial, refills_at)
    }
}

/// The client's prepared operation as the worker records it.
fn ours(p: warrant_client::Prepared) -> Prepared {
    Prepared { nonce: p.nonce, hash: p.hash, op: p.op, period: p.period }
}

/// When the period cap behind `denial` refills, if it is a period's.
fn refill_time(denial: &Denial, scope: &Scope, now: u64) -> Option<u64> {
    matches!(denial.name(), "PeriodSpendLimitExceeded" | "PeriodUsesExhausted")
        .then(|| {
            policy::current_period(scope, now)
                .and_then(|k| policy::period_bounds(scope, k))
                .map(|(_, end)| end)
        })
        .flatten()
}

#[async_trait]
impl Executor for ChainExecutor {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The next block's time, as near as the node's latest block tells. Used to pick the period an operation
    /// names.
    async fn now(&self) -> Result<u64, ExecError> {
        let block = self.provider.get_block_by_number(Default::default()).await.map_err(transient)?;
        let latest = block.ok_or_else(|| transient("no latest block"))?.header.timestamp;
        Ok(next_block_time(latest))
    }

    /// On the session's kept basis when `bases`' rule allows (no node reads; the bundler's estimate of the same
    /// shape reused within the block), else on a new reading.
    async fn prepare(&self, session: &Session, calls: &[Call]) -> Result<Prepared, ExecError> {
        let signed = &session.grant;
        let account = signed.grant.account;
        let options = SendOptions {
            account_kind: Some(self.kind(account).await?),
            nonce_lane: session.nonce_lane,
            ..SendOptions::default()
        };
        let slot = self.bases.slot(account, signed.session_id(), session.nonce_lane);
        let mut kept = slot.lock().await;
        if kept.as_ref().is_some_and(|k| !self.bases.usable(k, account)) {
            *kept = None;
        }
        if kept.is_none() {
            // Taken before the reads: a block or a submission during them makes the reading unusable at once.
            let (block, submissions) = (self.bases.block(), self.bases.submissions(account));
            let basis = match self.client.basis(signed, &options).await {
                Ok(basis) => basis,
                Err(e) => return Err(self.client_error(e, &signed.grant.session.scope).await),
            };
            match block {
                Some(block) => {
                    *kept = Some(Kept { block, submissions, basis, estimates: HashMap::new() });
                }
                // The block watcher has no answer yet: prepare on this reading and keep nothing.
                None => {
                    return self
                        .prepare_on(&basis, None, session, calls, &options)
                        .await
                        .map(|(p, _)| ours(p));
                }
            }
        }
        let k = kept.as_mut().expect("kept above");
        let clock = u64::try_from(crate::ids::now()).unwrap_or_default();
        let basis = k.basis.at(clock);
        let key = (basis.presentation(), shape(calls));
        let known = k.estimates.get(&key).copied();
        let (prepared, estimate) = match self.prepare_on(&basis, known, session, calls, &options).await {
            Ok(done) => done,
            Err(e) => {
                // A refusal may come from a kept basis the chain has moved past: read again next time.
                *kept = None;
                return Err(e);
            }
        };
        if let Some(estimate) = estimate {
            k.estimates.insert(key, estimate);
        }
        Ok(ours(prepared))
    }

    fn forget(&self, session: &Session) {
        // Counted as a submission: nothing read before it is used again.
        self.bases.sent(session.grant.grant.account);
    }

    async fn submit(&self, prepared: &Prepared) -> Result<B256, ExecError> {
        // The client's bundler, without `Client::submit`'s wrapper (which takes the client's own `Prepared`).
        let bundler = self.client.bundler().map_err(|e| ExecError::Fatal(e.to_string()))?;
        // Whatever the answer, the account's state may change: its kept bases are not used again.
        self.bases.sent(prepared.op.sender);
        let hash = bundler.send_user_operation(&prepared.op).await.map_err(chain_error)?;
        if hash != prepared.hash {
            return Err(ExecError::Fatal(format!(
                "the bundler answered userOpHash {hash}, the service computed {}",
                prepared.hash
            )));
        }
        Ok(hash)
    }

    /// From the node's logs (the EntryPoint's `UserOperationEvent` with this hash), not the bundler's memory:
    /// reconciliation decides from this whether an operation landed, so it must see every operation that did,
    /// whichever bundler sent it and whether or not that bundler restarted.
    async fn receipt(&self, hash: B256) -> Result<Option<OpReceipt>, ExecError> {
        use alloy::sol_types::SolEvent;
        let filter = alloy::rpc::types::Filter::new()
            .address(ENTRY_POINT_V08)
            .event_signature(IEntryPoint::UserOperationEvent::SIGNATURE_HASH)
            .topic1(hash)
            .from_block(self.from_block);
        let logs = self.provider.get_logs(&filter).await.map_err(transient)?;
        let Some(log) = logs.iter().find(|l| !l.removed) else { return Ok(None) };
        let event = IEntryPoint::UserOperationEvent::decode_log(&log.inner)
            .map_err(|e| transient(format!("undecodable UserOperationEvent: {e}")))?;
        let transaction_hash =
            log.transaction_hash.ok_or_else(|| transient("a log without its transaction"))?;
        Ok(Some(OpReceipt { hash, success: event.data.success, transaction_hash }))
    }

    /// Alto first (`pimlico_getUserOperationStatus`: its `eth_getUserOperationByHash` reads only the chain's logs,
    /// so it never shows a pending operation), then ERC-7769's `eth_getUserOperationByHash` (a bundler that
    /// reports pending operations answers them with a null transaction hash).
    async fn held_by_bundler(&self, hash: B256) -> Result<bool, ExecError> {
        let status: Result<serde_json::Value, _> =
            self.bundler_rpc.request("pimlico_getUserOperationStatus", (hash,)).await;
        match status {
            Ok(v) => {
                // `not_submitted`: in the mempool; `submitted`: in a bundle transaction not yet mined. Everything
                // else (`not_found`, `rejected`, `failed`, `included`, `reverted`) means it is not held: included
                // ones are found by their receipt, the others may be sent again.
                let status = v.get("status").and_then(|s| s.as_str()).unwrap_or_default();
                return Ok(matches!(status, "not_submitted" | "submitted"));
            }
            // A bundler without the method answers an error (-32601 by JSON-RPC, others by some bundlers).
            Err(e) if e.as_error_resp().is_some() => {}
            Err(e) => return Err(transient(e)),
        }
        let found: Option<serde_json::Value> =
            self.bundler_rpc.request("eth_getUserOperationByHash", (hash,)).await.map_err(transient)?;
        // Included operations are answered too (with a transaction hash); only a pending one counts here.
        Ok(found.is_some_and(|v| v.get("transactionHash").is_none_or(|t| t.is_null())))
    }

    async fn nonce(&self, session: &Session) -> Result<U256, ExecError> {
        let key = self.nonce_key(session).await?;
        self.view(ENTRY_POINT_V08, IEntryPoint::getNonceCall { sender: session.grant.grant.account, key })
            .await
    }

    async fn status(&self, session: &Session) -> Result<SessionStatus, ExecError> {
        // The client's report (the one `warrant status` prints), so the service and the CLI never disagree on a
        // session; the service adds the states its keys take from it.
        let report = self.client.status(&session.grant).await.map_err(|e| match e {
            ClientError::Chain(e) => chain_error(e),
            other => transient(other),
        })?;
        let scope = &session.grant.grant.session.scope;
        let valid_until = scope.validUntil.to::<u64>();
        // Expired when the next operation would be: it lands in a new block.
        let now = next_block_time(report.now);
        let lifetime_spent = scope
            .limits
            .iter()
            .zip(&report.limits)
            .any(|(l, left)| l.lifetime != NO_CAP && left.remaining_lifetime == Some(0));
        let (state, reason) = match report.state {
            SessionState::Revoked => ("revoked", Some("SessionRevoked")),
            SessionState::EpochRevoked => ("revoked", Some("GrantEpochStale")),
            _ if valid_until != 0 && now > valid_until => ("expired", Some("SessionExpired")),
            _ if report.max_uses != 0 && report.uses >= report.max_uses => {
                ("exhausted", Some("UsesExhausted"))
            }
            _ if lifetime_spent => ("exhausted", Some("SpendLimitExceeded")),
            SessionState::NotYetEnabled => ("not_enabled", None),
            SessionState::Enabled => ("enabled", None),
        };
        Ok(SessionStatus {
            state: state.into(),
            reason: reason.map(str::to_string),
            uses: report.uses,
            max_uses: report.max_uses,
            value_spent: report.value_spent.to_string(),
            period: report.period,
            period_ends_at: report.refills_at,
            valid_until: (valid_until != 0).then_some(valid_until),
            limits: report
                .limits
                .iter()
                .map(|s| LimitLeft {
                    token: s.token.to_string(),
                    remaining_in_period: s.remaining_in_period.map(|v| v.to_string()),
                    remaining_lifetime: s.remaining_lifetime.map(|v| v.to_string()),
                    refills_at: s.refills_at,
                })
                .collect(),
        })
    }
}
