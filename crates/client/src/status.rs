//! What a session has used and has left: the report behind `warrant status`.

use alloy::primitives::{Address, B256, U256};
use serde::Serialize;
use warrant_core::{
    grant::{Gate, Session},
    policy::{self, SessionStatus, SpendStatus},
    token::SignedGrant,
};

use crate::{Client, ClientError, SessionView, StateReader};

/// Whether a session can be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionState {
    /// Enabled: its operations are checked against its scope.
    Enabled,
    /// Not yet enabled: the first operation presents the grant (ENABLE mode).
    NotYetEnabled,
    /// Revoked by `revokeSession`.
    Revoked,
    /// Revoked with every other session of the account: the account's epoch moved past the grant's.
    EpochRevoked,
}

impl SessionState {
    /// The state in plain words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::NotYetEnabled => "not yet enabled (the first operation presents the grant)",
            Self::Revoked => "revoked",
            Self::EpochRevoked => "revoked (the account moved to a new epoch)",
        }
    }

    /// Whether operations of the session can still be validated.
    pub fn is_usable(self) -> bool {
        matches!(self, Self::Enabled | Self::NotYetEnabled)
    }
}

/// One gate of the scope and what the account holds of its token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GateStatus {
    /// The gate.
    #[serde(skip)]
    pub gate: Gate,
    /// Its token.
    pub token: Address,
    /// `erc20`, `erc721` or `erc1155`.
    pub kind: &'static str,
    /// The ERC-1155 id (0 for the other kinds).
    #[serde(serialize_with = "decimal")]
    pub token_id: U256,
    /// The balance the gate needs.
    #[serde(serialize_with = "decimal")]
    pub min_balance: U256,
    /// What the account holds (`None`: the token does not answer `balanceOf`).
    #[serde(serialize_with = "decimal_opt")]
    pub held: Option<U256>,
    /// Whether the gate lets operations through now.
    pub open: bool,
}

/// What a session has used and has left, at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionReport {
    /// The session id.
    pub session_id: B256,
    /// Whether it can be used.
    pub state: SessionState,
    /// Operations counted (only with a `maxUses` cap).
    pub uses: u32,
    /// The `maxUses` cap (0: unlimited).
    pub max_uses: u32,
    /// Native value debited, gas included, in wei.
    #[serde(serialize_with = "decimal")]
    pub value_spent: u128,
    /// The session's native budget (`maxValueTotal`; 0: unlimited).
    #[serde(serialize_with = "decimal")]
    pub max_value_total: U256,
    /// The current period (`None`: the scope has none, or it has not started).
    pub period: Option<u32>,
    /// When the current period ends and its caps refill.
    pub refills_at: Option<u64>,
    /// Operations counted in the current period.
    pub uses_in_period: u32,
    /// The `maxUsesPerPeriod` cap (0: unlimited).
    pub max_uses_per_period: u32,
    /// What each spend limit has left, in the scope's order.
    #[serde(serialize_with = "serialize_limits")]
    pub limits: Vec<SpendStatus>,
    /// Each gate and what the account holds.
    pub gates: Vec<GateStatus>,
    /// The time of the reading.
    pub now: u64,
}

impl SessionReport {
    /// The report of a reading, for a grant of `grant_epoch` (`None`: a session enabled by the owner, which
    /// the epoch ends all the same).
    pub fn new(view: &SessionView, grant_epoch: Option<u64>) -> Self {
        let scope = &view.session.scope;
        let stale = match grant_epoch {
            Some(epoch) => view.check_grant_epoch(epoch).is_err(),
            // A session enabled on chain carries the epoch it was enabled in; the validator reports it.
            None => false,
        };
        let state = match view.usage.status {
            SessionStatus::Revoked => SessionState::Revoked,
            _ if stale => SessionState::EpochRevoked,
            SessionStatus::Enabled => SessionState::Enabled,
            SessionStatus::None => SessionState::NotYetEnabled,
        };
        let period = policy::current_period(scope, view.now);
        let uses_in_period = match period {
            Some(k) if k == view.usage.period_index => view.usage.uses_in_period,
            _ => 0,
        };
        let limits = (0..scope.limits.len())
            .filter_map(|i| {
                let counters = view.usage.limits.get(i).copied().unwrap_or_default();
                policy::spend_status(scope, i, &counters, view.now)
            })
            .collect();
        let gates = scope
            .gates
            .iter()
            .zip(&view.holdings)
            .map(|(g, held)| GateStatus {
                gate: g.clone(),
                token: g.token,
                kind: warrant_core::grant::gate_kind::name(g.kind).unwrap_or("unknown"),
                token_id: g.tokenId,
                min_balance: g.minBalance,
                held: *held,
                open: held.is_some_and(|v| v >= g.minBalance),
            })
            .collect();
        Self {
            session_id: view.id,
            state,
            uses: view.usage.uses,
            max_uses: scope.maxUses,
            value_spent: view.usage.value_spent,
            max_value_total: scope.maxValueTotal,
            period,
            refills_at: period.and_then(|k| policy::period_bounds(scope, k)).map(|(_, end)| end),
            uses_in_period,
            max_uses_per_period: scope.maxUsesPerPeriod,
            limits,
            gates,
            now: view.now,
        }
    }
}

// Amounts as decimal strings: JSON numbers lose precision past 2^53.
fn decimal<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn decimal_opt<T: std::fmt::Display, S: serde::Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn serialize_limits<S: serde::Serializer>(limits: &[SpendStatus], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(limits.len()))?;
    for l in limits {
        seq.serialize_element(&serde_json::json!({
            "token": l.token,
            "remainingInPeriod": l.remaining_in_period.map(|v| v.to_string()),
            "remainingLifetime": l.remaining_lifetime.map(|v| v.to_string()),
            "refillsAt": l.refills_at,
        }))?;
    }
    seq.end()
}

impl Client {
    /// What `grant`'s session has used and has left now.
    pub async fn status(&self, grant: &SignedGrant) -> Result<SessionReport, ClientError> {
        self.check_chain("the grant", grant.chain_id)?;
        let view = self.session_view(grant.module, grant.grant.account, &grant.grant.session).await?;
        Ok(SessionReport::new(&view, Some(grant.grant.epoch)))
    }

    /// Reads `session` of `account` at `module` from the node.
    pub async fn session_view(
        &self,
        module: Address,
        account: Address,
        session: &Session,
    ) -> Result<SessionView, ClientError> {
        let mut node = self.node.clone();
        SessionView::read(&mut node, module, account, session).await
    }

    /// The account's epoch at `module`.
    pub async fn epoch(&self, module: Address, account: Address) -> Result<U256, ClientError> {
        self.node.clone().epoch(module, account).await
    }
}
