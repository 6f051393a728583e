//! What the service stores, and the [`Storage`] trait both back ends implement with the same schema
//! (`migrations/sqlite`, `migrations/postgres`).
//!
//! Every write the worker makes on a key's runs is fenced by the key's lease (`lease_owner`, `lease_until`): an
//! instance whose lease expired and was taken over can no longer record anything for that key, so two instances
//! never both prepare an operation for one run (see `docs/service.md`, "Exactly once").

use async_trait::async_trait;

/// A storage error.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A row with this unique value exists already.
    #[error("{0} already exists")]
    Conflict(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
    /// A stored value does not decode (a damaged or foreign database).
    #[error("stored {0} does not decode")]
    Corrupt(String),
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return Self::Conflict(db.message().to_string());
        }
        Self::Database(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StorageError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Database(format!("migration: {e}"))
    }
}

/// Storage results.
pub type Result<T> = std::result::Result<T, StorageError>;

/// A session key the service holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRow {
    /// Stable id (`key_…`).
    pub id: String,
    /// The session's name, what API tokens are limited to.
    pub name: String,
    /// The key's address (checksummed hex).
    pub address: String,
    /// The private key sealed under the master key (`keys::seal`); empty once forgotten.
    pub sealed: Vec<u8>,
    /// The EntryPoint nonce key suffix the key's operations use (one sequence per key).
    pub nonce_lane: i64,
    /// The grant token attached to the key.
    pub grant_token: Option<String>,
    /// The grant's account.
    pub account: Option<String>,
    /// The grant's session id.
    pub session_id: Option<String>,
    /// `new` (no grant), `active`, `revoked`, `expired`, `exhausted` or `forgotten`.
    pub state: String,
    /// Why the key is not active (the rule that said so).
    pub state_reason: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// An API token (only its secret's hash is stored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    /// The public part of the token.
    pub id: String,
    /// SHA-256 of the secret part, hex.
    pub secret_hash: String,
    /// The sessions the token may act on, comma-separated (`*`: all).
    pub sessions: String,
    /// What the operator called it.
    pub label: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once revoked.
    pub revoked_at: Option<i64>,
    /// May create, list and revoke API tokens (`/v1/tokens`).
    pub admin: bool,
}

/// An ERC-7715 permission request: pending until the owner approves (signs the grant) or rejects it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionRow {
    /// Its id (`perm_…`).
    pub id: String,
    /// The dApp's `Origin` header (`""` without one).
    pub origin: String,
    /// `wallet_requestExecutionPermissions` or the legacy `wallet_grantPermissions`.
    pub method: String,
    /// The one request, as the dApp sent it (JSON text).
    pub request: String,
    /// SHA-256 of origin and request: the same request sent again waits on the same row.
    pub fingerprint: String,
    /// `pending`, `granted`, `rejected` or `expired`.
    pub state: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The owner-signed grant token (granted only).
    pub grant_token: Option<String>,
    /// The grant's account.
    pub account: Option<String>,
    /// The grant's session id.
    pub session_id: Option<String>,
    /// The ERC-7715 response (JSON text).
    pub response: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// When the owner decided.
    pub decided_at: Option<i64>,
    /// When the dApp asked for a revocation (the chain decides when it happened).
    pub revoke_requested_at: Option<i64>,
}

/// A job: calls to send once or on a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    /// Stable id (`job_…`).
    pub id: String,
    /// The key that sends it.
    pub key_id: String,
    /// The calls, JSON (`[{"to", "value", "data"}]`).
    pub calls: String,
    /// The schedule, JSON ([`crate::schedule::Schedule`]).
    pub schedule: String,
    /// `wait` (for the refill) or `skip`.
    pub on_refused: String,
    /// `all`, `latest` or `none`: what happens to slots missed while the service was down.
    pub catch_up: String,
    /// `active`, `paused`, `cancelled` or `done`.
    pub state: String,
    /// The next slot (unix seconds), `None` when no run is left to create.
    pub next_run_at: Option<i64>,
    /// The caller's idempotency key (unique per key).
    pub idempotency_key: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// One run of a job: the operation for one slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRow {
    /// Stable id (`run_…`).
    pub id: String,
    /// The job.
    pub job_id: String,
    /// The key.
    pub key_id: String,
    /// The slot (unix seconds) this run is for; unique per job.
    pub slot: i64,
    /// `pending`, `prepared`, `submitted` (in doubt until resolved), `included`, `reverted`, `refused`,
    /// `skipped`, `failed` or `cancelled`.
    pub state: String,
    /// How often it was tried (pre-flight, node and bundler failures).
    pub tries: i64,
    /// Not to be tried before this time (backoff, or the refill it waits for).
    pub not_before: i64,
    /// The nonce of its latest attempt, decimal.
    pub nonce: Option<String>,
    /// The period its latest attempt names.
    pub period: Option<i64>,
    /// The userOpHash of its latest attempt.
    pub user_op_hash: Option<String>,
    /// The transaction that included it.
    pub transaction_hash: Option<String>,
    /// The rule that refused it (the last refusal, for a run waiting for a refill).
    pub rule: Option<String>,
    /// The last error.
    pub error: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// A signed operation recorded for a run before it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRow {
    /// The run.
    pub run_id: String,
    /// 1, 2, …
    pub n: i64,
    /// Its nonce, decimal.
    pub nonce: String,
    /// The period it names.
    pub period: i64,
    /// Its userOpHash.
    pub user_op_hash: String,
    /// The signed operation, JSON (ERC-7769 form).
    pub user_op: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// One entry of the append-only audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    /// Its position (assigned by the database).
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who: an API token id, `service` or `operator`.
    pub actor: String,
    /// What, e.g. `key.create`.
    pub action: String,
    /// On what (an id or a name).
    pub subject: String,
    /// Details, JSON; never a secret.
    pub detail: String,
}

/// A change to a run, applied only if the run is still in `expect` and the key's lease is `owner`'s.
#[derive(Clone, Debug, Default)]
pub struct RunUpdate {
    /// New state.
    pub state: String,
    /// New `tries`.
    pub tries: i64,
    /// New `not_before`.
    pub not_before: i64,
    /// New transaction hash.
    pub transaction_hash: Option<String>,
    /// New rule.
    pub rule: Option<String>,
    /// New error.
    pub error: Option<String>,
}

/// Run creation for one job, in one transaction: the runs for `slots`, runs already `skipped` for the missed
/// slots the catch-up policy drops, and the job's next slot (only if it is still `expected_next`).
#[derive(Clone, Debug, Default)]
pub struct Materialize {
    /// The job.
    pub job_id: String,
    /// The key.
    pub key_id: String,
    /// The next slot the caller read (a compare-and-set guard).
    pub expected_next: i64,
    /// Slots to run.
    pub slots: Vec<i64>,
    /// Slots recorded as skipped (missed during downtime, catch-up `latest` or `none`).
    pub skipped: Vec<i64>,
    /// The job's next slot after these, `None` when the job is done.
    pub next_run_at: Option<i64>,
}

/// A send prepared in the request that asked for it (`crate::inline`): its job, its one run (already `prepared`,
/// or ended: `signed`, `refused`, `skipped`), the run's operation, and the audit entry; recorded in one
/// transaction with other sends ([`Storage::record_sends`]).
#[derive(Clone, Debug)]
pub struct NewSend {
    /// The job (`done`: its one run is here).
    pub job: JobRow,
    /// The run.
    pub run: RunRow,
    /// Its operation, if one was signed.
    pub attempt: Option<AttemptRow>,
    /// The audit entry's actor: the API token that asked, which must still be live when the send is recorded.
    pub actor: String,
    /// The audit entry's details (JSON).
    pub detail: String,
    /// The key as the request read it (`grant_token`, `nonce_lane`), which must still be the key's, and active,
    /// when the send is recorded: the request may have read it from this instance's cache.
    pub key_seen: KeySeen,
}

/// What a send was prepared on of its key row ([`NewSend::key_seen`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySeen {
    /// The grant the operation was signed under.
    pub grant_token: Option<String>,
    /// The nonce lane it was signed on.
    pub nonce_lane: i64,
}

/// What became of a [`NewSend`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendRecord {
    /// Recorded.
    Recorded,
    /// The key has this idempotency key already: that job, and nothing recorded.
    Seen(Box<JobRow>),
    /// The send carries an operation and the key has an open run (a run's operation must not overtake it):
    /// nothing recorded.
    Busy,
    /// An attempt with its userOpHash exists (a dry run after a restart signs an operation again): nothing
    /// recorded.
    Duplicate,
    /// The API token was revoked, or the key is no longer active or has another grant or lane than the request
    /// read: nothing recorded (the request reads them again).
    Stale,
}

/// Counts of runs by state (metrics and tests).
pub type StateCounts = Vec<(String, i64)>;

/// The service's storage. [`crate::storage::SqliteStorage`] and [`crate::storage::PgStorage`] implement it
/// with the same SQL except for claiming leases (Postgres adds `FOR UPDATE SKIP LOCKED`).
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// `postgres` or `sqlite`.
    fn backend(&self) -> &'static str;

    /// A value of the `meta` table.
    async fn meta(&self, k: &str) -> Result<Option<String>>;
    /// Sets a value of the `meta` table.
    async fn set_meta(&self, k: &str, v: &str) -> Result<()>;
    /// Sets a value of the `meta` table unless it is set already (two instances starting at once agree on the
    /// first); answers the value it holds.
    async fn init_meta(&self, k: &str, v: &str) -> Result<String>;
    /// Whether any run was ever created.
    async fn has_runs(&self) -> Result<bool>;

    /// Adds a key; [`StorageError::Conflict`] if its name is taken.
    async fn insert_key(&self, key: &KeyRow) -> Result<()>;
    /// A key by name.
    async fn key_by_name(&self, name: &str) -> Result<Option<KeyRow>>;
    /// A key by id.
    async fn key(&self, id: &str) -> Result<Option<KeyRow>>;
    /// Every key, by name.
    async fn keys(&self) -> Result<Vec<KeyRow>>;
    /// Attaches a grant to a key that has none and makes it active, moving it to nonce lane `lane`; false if the
    /// key has a grant already or another key of `account` holds `lane`.
    async fn attach_grant(
        &self,
        id: &str,
        token: &str,
        account: &str,
        session_id: &str,
        lane: i64,
    ) -> Result<bool>;
    /// Sets a key's state (`revoked`, `expired`, `exhausted`, …) and why; a forgotten key stays forgotten.
    async fn set_key_state(&self, id: &str, state: &str, reason: Option<&str>) -> Result<()>;
    /// Erases a key's sealed secret, marks it forgotten and cancels its jobs and runs not yet prepared.
    async fn forget_key(&self, id: &str, now: i64) -> Result<()>;
    /// Replaces every sealed secret in one transaction (master key rotation): `(id, sealed)` pairs.
    async fn reseal(&self, sealed: &[(String, Vec<u8>)], check: &str) -> Result<()>;

    /// Adds an API token.
    async fn insert_token(&self, token: &TokenRow) -> Result<()>;
    /// An API token by id.
    async fn token(&self, id: &str) -> Result<Option<TokenRow>>;
    /// Every API token (revoked ones too), oldest first.
    async fn tokens(&self) -> Result<Vec<TokenRow>>;
    /// Marks a token revoked; false if it is unknown or revoked already. Its row stays (the audit log names it).
    async fn revoke_token(&self, id: &str, now: i64) -> Result<bool>;

    /// Adds a job; with an idempotency key already used for this key, returns the existing job instead.
    async fn insert_job(&self, job: &JobRow) -> Result<JobRow>;
    /// A job by id.
    async fn job(&self, id: &str) -> Result<Option<JobRow>>;
    /// Every job, newest first.
    async fn jobs(&self) -> Result<Vec<JobRow>>;
    /// Moves a job from one of `from` to `to`; false if it was in none of them. Cancelling also cancels its runs
    /// not yet prepared.
    async fn set_job_state(&self, id: &str, from: &[&str], to: &str, now: i64) -> Result<bool>;
    /// A job's runs, by slot.
    async fn runs_of_job(&self, job_id: &str) -> Result<Vec<RunRow>>;
    /// A run by id.
    async fn run(&self, id: &str) -> Result<Option<RunRow>>;
    /// Every run (tests, reports).
    async fn all_runs(&self) -> Result<Vec<RunRow>>;
    /// Runs counted by state.
    async fn run_counts(&self) -> Result<StateCounts>;

    /// Leases up to `limit` keys that have work (open runs or due jobs) and whose lease is free or expired.
    async fn claim_keys(&self, owner: &str, now: i64, lease_until: i64, limit: i64) -> Result<Vec<String>>;
    /// Extends `owner`'s lease; false if it is no longer `owner`'s.
    async fn renew_lease(&self, key_id: &str, owner: &str, now: i64, lease_until: i64) -> Result<bool>;
    /// Gives a lease back.
    async fn release_lease(&self, key_id: &str, owner: &str) -> Result<()>;
    /// Active jobs of a key whose next slot is due.
    async fn due_jobs(&self, key_id: &str, now: i64) -> Result<Vec<JobRow>>;
    /// Creates runs for a job (see [`Materialize`]); false if the job moved on meanwhile or the lease is lost.
    async fn materialize(&self, m: &Materialize, owner: &str, now: i64) -> Result<bool>;
    /// A key's runs in `pending`, `prepared` or `submitted`, by slot.
    async fn open_runs(&self, key_id: &str) -> Result<Vec<RunRow>>;
    /// Updates a run if it is still in `expect` and `owner` holds its key's lease.
    async fn update_run(
        &self,
        run_id: &str,
        expect: &str,
        u: &RunUpdate,
        owner: &str,
        now: i64,
    ) -> Result<bool>;
    /// Records a signed operation for a run and marks it `prepared`, before it is sent; only if the run is still
    /// in `expect` and `owner` holds the lease.
    async fn record_attempt(&self, a: &AttemptRow, expect: &str, owner: &str, now: i64) -> Result<bool>;
    /// Records sends in one transaction (one commit, one fsync, for many requests: group commit), each only if
    /// nothing of [`SendRecord`] stands in its way; answers one [`SendRecord`] per send, in order.
    async fn record_sends(&self, sends: &[NewSend], now: i64) -> Result<Vec<SendRecord>>;
    /// A run's attempts, oldest first.
    async fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRow>>;

    /// Stores a new permission request.
    async fn insert_permission(&self, p: &PermissionRow) -> Result<()>;
    /// A permission request by id.
    async fn permission(&self, id: &str) -> Result<Option<PermissionRow>>;
    /// The pending request with this fingerprint, if any.
    async fn pending_permission(&self, fingerprint: &str) -> Result<Option<PermissionRow>>;
    /// Granted requests with this fingerprint, newest first.
    async fn granted_permissions(&self, fingerprint: &str) -> Result<Vec<PermissionRow>>;
    /// Permission requests in `state`, oldest first.
    async fn permissions_in(&self, state: &str) -> Result<Vec<PermissionRow>>;
    /// Marks requests pending since before `before` as `expired` (nobody decided them); returns how many.
    async fn expire_permissions(&self, before: i64, now: i64) -> Result<u64>;
    /// Counts pending permission requests (a bound on what unauthenticated dApps can store).
    async fn pending_permission_count(&self) -> Result<i64>;
    /// Decides a pending request (compare-and-set on `pending`): `granted` with the grant, or `rejected` with
    /// the reason. False when it was no longer pending.
    async fn decide_permission(&self, decided: &PermissionRow, now: i64) -> Result<bool>;
    /// Records that the dApp asked to revoke a granted permission.
    async fn request_permission_revocation(&self, id: &str, now: i64) -> Result<bool>;

    /// Appends to the audit log.
    async fn audit(&self, actor: &str, action: &str, subject: &str, detail: &str, now: i64) -> Result<()>;
    /// The audit log, oldest first, from `after` (exclusive).
    async fn audit_log(&self, after: i64, limit: i64) -> Result<Vec<AuditRow>>;
}
