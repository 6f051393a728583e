//! Storage: the [`Storage`] trait ([`api`]) and its two back ends, SQLite ([`sqlite`], the default: a file in
//! the data directory, no setup) and PostgreSQL ([`pg`], for several instances). Both run the same statements
//! (`$n` placeholders, which SQLite accepts too) through `sql_storage!`, except the lease claim, where
//! Postgres adds `FOR UPDATE SKIP LOCKED`.

pub mod api;
pub mod group;
pub mod pg;
pub mod sqlite;

use std::sync::Arc;

pub use api::{
    AttemptRow, AuditRow, JobRow, KeyRow, KeySeen, Materialize, NewSend, PermissionRow, Result, RunRow,
    RunUpdate, SendRecord, Storage, StorageError, TokenRow,
};
pub use group::GroupCommit;
pub use pg::PgStorage;
pub use sqlite::SqliteStorage;

/// Opens the storage a database URL names: `postgres://…` or `sqlite://…` (created if missing), migrated.
pub async fn open(url: &str) -> Result<Arc<dyn Storage>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStorage::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStorage::connect(url).await?))
    } else {
        Err(StorageError::Database(format!(
            "unsupported database URL scheme in {:?}: expected postgres:// or sqlite://",
            url.split(':').next().unwrap_or_default()
        )))
    }
}

/// States of a run that are not final.
pub const OPEN_STATES: [&str; 3] = ["pending", "prepared", "submitted"];

/// The statements both back ends share. `$storage` is the type (with `pool`, the pool reads use, and `writes`, the
/// one writes use, both `sqlx::Pool<$db>`, and a `tx()` on `writes`), and `$claim` the lease claim's statement.
macro_rules! sql_storage {
    ($storage:ty, $db:ty, $backend:literal, $claim:expr) => {
        type Row = <$db as sqlx::Database>::Row;

        fn key_row(r: &Row) -> $crate::storage::Result<$crate::storage::KeyRow> {
            use sqlx::Row as _;
            Ok($crate::storage::KeyRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                address: r.try_get("address")?,
                sealed: r.try_get("sealed")?,
                nonce_lane: r.try_get("nonce_lane")?,
                grant_token: r.try_get("grant_token")?,
                account: r.try_get("account")?,
                session_id: r.try_get("session_id")?,
                state: r.try_get("state")?,
                state_reason: r.try_get("state_reason")?,
                created_at: r.try_get("created_at")?,
            })
        }

        fn job_row(r: &Row) -> $crate::storage::Result<$crate::storage::JobRow> {
            use sqlx::Row as _;
            Ok($crate::storage::JobRow {
                id: r.try_get("id")?,
                key_id: r.try_get("key_id")?,
                calls: r.try_get("calls")?,
                schedule: r.try_get("schedule")?,
                on_refused: r.try_get("on_refused")?,
                catch_up: r.try_get("catch_up")?,
                state: r.try_get("state")?,
                next_run_at: r.try_get("next_run_at")?,
                idempotency_key: r.try_get("idempotency_key")?,
                created_at: r.try_get("created_at")?,
            })
        }

        fn run_row(r: &Row) -> $crate::storage::Result<$crate::storage::RunRow> {
            use sqlx::Row as _;
            Ok($crate::storage::RunRow {
                id: r.try_get("id")?,
                job_id: r.try_get("job_id")?,
                key_id: r.try_get("key_id")?,
                slot: r.try_get("slot")?,
                state: r.try_get("state")?,
                tries: r.try_get("tries")?,
                not_before: r.try_get("not_before")?,
                nonce: r.try_get("nonce")?,
                period: r.try_get("period")?,
                user_op_hash: r.try_get("user_op_hash")?,
                transaction_hash: r.try_get("transaction_hash")?,
                rule: r.try_get("rule")?,
                error: r.try_get("error")?,
                created_at: r.try_get("created_at")?,
                updated_at: r.try_get("updated_at")?,
            })
        }

        fn permission_row(r: &Row) -> $crate::storage::Result<$crate::storage::PermissionRow> {
            use sqlx::Row as _;
            Ok($crate::storage::PermissionRow {
                id: r.try_get("id")?,
                origin: r.try_get("origin")?,
                method: r.try_get("method")?,
                request: r.try_get("request")?,
                fingerprint: r.try_get("fingerprint")?,
                state: r.try_get("state")?,
                reason: r.try_get("reason")?,
                grant_token: r.try_get("grant_token")?,
                account: r.try_get("account")?,
                session_id: r.try_get("session_id")?,
                response: r.try_get("response")?,
                created_at: r.try_get("created_at")?,
                decided_at: r.try_get("decided_at")?,
                revoke_requested_at: r.try_get("revoke_requested_at")?,
            })
        }

        fn attempt_row(r: &Row) -> $crate::storage::Result<$crate::storage::AttemptRow> {
            use sqlx::Row as _;
            Ok($crate::storage::AttemptRow {
                run_id: r.try_get("run_id")?,
                n: r.try_get("n")?,
                nonce: r.try_get("nonce")?,
                period: r.try_get("period")?,
                user_op_hash: r.try_get("user_op_hash")?,
                user_op: r.try_get("user_op")?,
                created_at: r.try_get("created_at")?,
            })
        }

        fn token_row(r: &Row) -> $crate::storage::Result<$crate::storage::TokenRow> {
            use sqlx::Row as _;
            Ok($crate::storage::TokenRow {
                id: r.try_get("id")?,
                secret_hash: r.try_get("secret_hash")?,
                sessions: r.try_get("sessions")?,
                label: r.try_get("label")?,
                created_at: r.try_get("created_at")?,
                revoked_at: r.try_get("revoked_at")?,
                admin: r.try_get::<i64, _>("admin")? != 0,
            })
        }

        fn rows<T>(
            rows: Vec<Row>,
            f: fn(&Row) -> $crate::storage::Result<T>,
        ) -> $crate::storage::Result<Vec<T>> {
            rows.iter().map(f).collect()
        }

        /// Takes the key's row lock and checks `owner` still holds its lease: the fence of every write the
        /// worker makes for a key (in Postgres the row lock also makes a concurrent claim skip the key).
        async fn fence(
            tx: &mut sqlx::Transaction<'static, $db>,
            key_id: &str,
            owner: &str,
            now: i64,
        ) -> $crate::storage::Result<bool> {
            let done = sqlx::query(
                "UPDATE keys SET lease_until = lease_until WHERE id = $1 AND lease_owner = $2 AND lease_until >= $3",
            )
            .bind(key_id)
            .bind(owner)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok(done.rows_affected() == 1)
        }

        /// The columns a new job is inserted with, in the order both inserts bind them.
        const JOB_INSERT: &str = "INSERT INTO jobs (id, key_id, calls, schedule, on_refused, catch_up, state, \
                                  next_run_at, idempotency_key, created_at) ";

        const RUN_COLUMNS: &str = "id, job_id, key_id, slot, state, tries, not_before, nonce, period, user_op_hash, \
                                   transaction_hash, rule, error, created_at, updated_at";

        #[async_trait::async_trait]
        impl $crate::storage::Storage for $storage {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn meta(&self, k: &str) -> $crate::storage::Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT v FROM meta WHERE k = $1").bind(k).fetch_optional(&self.pool).await?)
            }

            async fn set_meta(&self, k: &str, v: &str) -> $crate::storage::Result<()> {
                sqlx::query("INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = $2")
                    .bind(k)
                    .bind(v)
                    .execute(&self.writes)
                    .await?;
                Ok(())
            }

            async fn init_meta(&self, k: &str, v: &str) -> $crate::storage::Result<String> {
                sqlx::query("INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING")
                    .bind(k)
                    .bind(v)
                    .execute(&self.writes)
                    .await?;
                Ok(sqlx::query_scalar("SELECT v FROM meta WHERE k = $1").bind(k).fetch_one(&self.pool).await?)
            }

            async fn has_runs(&self) -> $crate::storage::Result<bool> {
                let any: Option<String> =
                    sqlx::query_scalar("SELECT id FROM runs LIMIT 1").fetch_optional(&self.pool).await?;
                Ok(any.is_some())
            }

            async fn insert_key(&self, key: &$crate::storage::KeyRow) -> $crate::storage::Result<()> {
                sqlx::query(
                    "INSERT INTO keys (id, name, address, sealed, nonce_lane, grant_token, account, session_id, \
                     state, state_reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&key.id)
                .bind(&key.name)
                .bind(&key.address)
                .bind(&key.sealed)
                .bind(key.nonce_lane)
                .bind(&key.grant_token)
                .bind(&key.account)
                .bind(&key.session_id)
                .bind(&key.state)
                .bind(&key.state_reason)
                .bind(key.created_at)
                .execute(&self.writes)
                .await
                .map_err(|e| match $crate::storage::StorageError::from(e) {
                    $crate::storage::StorageError::Conflict(_) => {
                        $crate::storage::StorageError::Conflict(format!("a key named {:?}", key.name))
                    }
                    other => other,
                })?;
                Ok(())
            }

            async fn key_by_name(&self, name: &str) -> $crate::storage::Result<Option<$crate::storage::KeyRow>> {
                let row = sqlx::query("SELECT * FROM keys WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
                row.as_ref().map(key_row).transpose()
            }

            async fn key(&self, id: &str) -> $crate::storage::Result<Option<$crate::storage::KeyRow>> {
                let row = sqlx::query("SELECT * FROM keys WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(key_row).transpose()
            }

            async fn keys(&self) -> $crate::storage::Result<Vec<$crate::storage::KeyRow>> {
                rows(sqlx::query("SELECT * FROM keys ORDER BY name").fetch_all(&self.pool).await?, key_row)
            }

            async fn attach_grant(
                &self,
                id: &str,
                token: &str,
                account: &str,
                session_id: &str,
                lane: i64,
            ) -> $crate::storage::Result<bool> {
                // Keys of one account never share a lane: they would race for one nonce sequence.
                let done = sqlx::query(
                    "UPDATE keys SET grant_token = $1, account = $2, session_id = $3, state = 'active', \
                     state_reason = NULL, nonce_lane = $5 WHERE id = $4 AND state = 'new' AND NOT EXISTS \
                     (SELECT 1 FROM keys AS other WHERE other.account = $2 AND other.nonce_lane = $5 \
                     AND other.id <> $4)",
                )
                .bind(token)
                .bind(account)
                .bind(session_id)
                .bind(id)
                .bind(lane)
                .execute(&self.writes)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_key_state(&self, id: &str, state: &str, reason: Option<&str>) -> $crate::storage::Result<()> {
                sqlx::query("UPDATE keys SET state = $1, state_reason = $2 WHERE id = $3 AND state <> 'forgotten'")
                    .bind(state)
                    .bind(reason)
                    .bind(id)
                    .execute(&self.writes)
                    .await?;
                Ok(())
            }

            async fn forget_key(&self, id: &str, now: i64) -> $crate::storage::Result<()> {
                let mut tx = self.tx().await?;
                sqlx::query("UPDATE keys SET sealed = $1, state = 'forgotten', state_reason = 'forgotten' WHERE id = $2")
                    .bind(Vec::<u8>::new())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE jobs SET state = 'cancelled' WHERE key_id = $1 AND state IN ('active', 'paused')")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    // The open states spelled out, so that SQLite searches `runs_open` (a partial index).
                    "UPDATE runs SET state = 'cancelled', error = 'key forgotten', updated_at = $1 \
                     WHERE key_id = $2 AND state IN ('pending', 'prepared', 'submitted') AND state = 'pending' \
                     AND tries = 0",
                )
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn reseal(&self, sealed: &[(String, Vec<u8>)], check: &str) -> $crate::storage::Result<()> {
                let mut tx = self.tx().await?;
                for (id, bytes) in sealed {
                    sqlx::query("UPDATE keys SET sealed = $1 WHERE id = $2").bind(bytes).bind(id).execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO meta (k, v) VALUES ('master_key_check', $1) ON CONFLICT (k) DO UPDATE SET v = $1")
                    .bind(check)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn insert_token(&self, t: &$crate::storage::TokenRow) -> $crate::storage::Result<()> {
                sqlx::query(
                    "INSERT INTO api_tokens (id, secret_hash, sessions, label, created_at, revoked_at, admin) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&t.id)
                .bind(&t.secret_hash)
                .bind(&t.sessions)
                .bind(&t.label)
                .bind(t.created_at)
                .bind(t.revoked_at)
                .bind(i64::from(t.admin))
                .execute(&self.writes)
                .await?;
                Ok(())
            }

            async fn token(&self, id: &str) -> $crate::storage::Result<Option<$crate::storage::TokenRow>> {
                let row = sqlx::query("SELECT * FROM api_tokens WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(token_row).transpose()
            }

            async fn tokens(&self) -> $crate::storage::Result<Vec<$crate::storage::TokenRow>> {
                let all = sqlx::query("SELECT * FROM api_tokens ORDER BY created_at, id").fetch_all(&self.pool).await?;
                rows(all, token_row)
            }

            async fn revoke_token(&self, id: &str, now: i64) -> $crate::storage::Result<bool> {
                let done = sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&self.writes)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_job(&self, job: &$crate::storage::JobRow) -> $crate::storage::Result<$crate::storage::JobRow> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "{JOB_INSERT}VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (key_id, idempotency_key) DO NOTHING"
                ));
                let inserted = sqlx::query(sql)
                .bind(&job.id)
                .bind(&job.key_id)
                .bind(&job.calls)
                .bind(&job.schedule)
                .bind(&job.on_refused)
                .bind(&job.catch_up)
                .bind(&job.state)
                .bind(job.next_run_at)
                .bind(&job.idempotency_key)
                .bind(job.created_at)
                .execute(&self.writes)
                .await?;
                if inserted.rows_affected() == 1 {
                    return Ok(job.clone());
                }
                let row = sqlx::query("SELECT * FROM jobs WHERE key_id = $1 AND idempotency_key = $2")
                    .bind(&job.key_id)
                    .bind(&job.idempotency_key)
                    .fetch_one(&self.pool)
                    .await?;
                job_row(&row)
            }

            async fn job(&self, id: &str) -> $crate::storage::Result<Option<$crate::storage::JobRow>> {
                let row = sqlx::query("SELECT * FROM jobs WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(job_row).transpose()
            }

            async fn jobs(&self) -> $crate::storage::Result<Vec<$crate::storage::JobRow>> {
                rows(sqlx::query("SELECT * FROM jobs ORDER BY created_at DESC, id").fetch_all(&self.pool).await?, job_row)
            }

            async fn set_job_state(&self, id: &str, from: &[&str], to: &str, now: i64) -> $crate::storage::Result<bool> {
                let mut tx = self.tx().await?;
                let current: Option<String> =
                    sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
                if !current.is_some_and(|s| from.contains(&s.as_str())) {
                    tx.rollback().await?;
                    return Ok(false);
                }
                sqlx::query("UPDATE jobs SET state = $1 WHERE id = $2").bind(to).bind(id).execute(&mut *tx).await?;
                if to == "cancelled" {
                    // Runs not yet signed are cancelled; a run with a recorded operation is left to be resolved.
                    sqlx::query(
                        "UPDATE runs SET state = 'cancelled', updated_at = $1 WHERE job_id = $2 AND state = 'pending' \
                         AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = runs.id)",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn runs_of_job(&self, job_id: &str) -> $crate::storage::Result<Vec<$crate::storage::RunRow>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs WHERE job_id = $1 ORDER BY slot"));
                rows(sqlx::query(sql).bind(job_id).fetch_all(&self.pool).await?, run_row)
            }

            async fn run(&self, id: &str) -> $crate::storage::Result<Option<$crate::storage::RunRow>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"));
                let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(run_row).transpose()
            }

            async fn all_runs(&self) -> $crate::storage::Result<Vec<$crate::storage::RunRow>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY job_id, slot"));
                rows(sqlx::query(sql).fetch_all(&self.pool).await?, run_row)
            }

            async fn run_counts(&self) -> $crate::storage::Result<$crate::storage::api::StateCounts> {
                Ok(sqlx::query_as("SELECT state, COUNT(*) FROM runs GROUP BY state ORDER BY state")
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn claim_keys(
                &self,
                owner: &str,
                now: i64,
                lease_until: i64,
                limit: i64,
            ) -> $crate::storage::Result<Vec<String>> {
                Ok(sqlx::query_scalar($claim)
                    .bind(owner)
                    .bind(now)
                    .bind(lease_until)
                    .bind(limit)
                    .fetch_all(&self.writes)
                    .await?)
            }

            async fn renew_lease(
                &self,
                key_id: &str,
                owner: &str,
                now: i64,
                lease_until: i64,
            ) -> $crate::storage::Result<bool> {
                let done = sqlx::query(
                    "UPDATE keys SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND lease_until >= $4",
                )
                .bind(lease_until)
                .bind(key_id)
                .bind(owner)
                .bind(now)
                .execute(&self.writes)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_lease(&self, key_id: &str, owner: &str) -> $crate::storage::Result<()> {
                sqlx::query("UPDATE keys SET lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2")
                    .bind(key_id)
                    .bind(owner)
                    .execute(&self.writes)
                    .await?;
                Ok(())
            }

            async fn due_jobs(&self, key_id: &str, now: i64) -> $crate::storage::Result<Vec<$crate::storage::JobRow>> {
                rows(
                    sqlx::query(
                        "SELECT * FROM jobs WHERE key_id = $1 AND state = 'active' AND next_run_at <= $2 \
                         ORDER BY next_run_at, id",
                    )
                    .bind(key_id)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?,
                    job_row,
                )
            }

            async fn materialize(
                &self,
                m: &$crate::storage::Materialize,
                owner: &str,
                now: i64,
            ) -> $crate::storage::Result<bool> {
                let mut tx = self.tx().await?;
                if !fence(&mut tx, &m.key_id, owner, now).await? {
                    tx.rollback().await?;
                    return Ok(false);
                }
                let state = if m.next_run_at.is_some() { "active" } else { "done" };
                let moved = sqlx::query(
                    "UPDATE jobs SET next_run_at = $1, state = $2 WHERE id = $3 AND next_run_at = $4 AND state = 'active'",
                )
                .bind(m.next_run_at)
                .bind(state)
                .bind(&m.job_id)
                .bind(m.expected_next)
                .execute(&mut *tx)
                .await?;
                if moved.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                let slots = m.slots.iter().map(|s| (*s, "pending")).chain(m.skipped.iter().map(|s| (*s, "skipped")));
                for (slot, run_state) in slots {
                    sqlx::query(
                        "INSERT INTO runs (id, job_id, key_id, slot, state, tries, not_before, rule, created_at, \
                         updated_at) VALUES ($1, $2, $3, $4, $5, 0, $4, $6, $7, $7) ON CONFLICT (job_id, slot) DO NOTHING",
                    )
                    .bind($crate::ids::new_id("run"))
                    .bind(&m.job_id)
                    .bind(&m.key_id)
                    .bind(slot)
                    .bind(run_state)
                    .bind((run_state == "skipped").then_some("missed while the service was down (catch-up policy)"))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn open_runs(&self, key_id: &str) -> $crate::storage::Result<Vec<$crate::storage::RunRow>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE key_id = $1 AND state IN ('pending', 'prepared', 'submitted') \
                     ORDER BY slot, id"
                ));
                rows(sqlx::query(sql).bind(key_id).fetch_all(&self.pool).await?, run_row)
            }

            async fn update_run(
                &self,
                run_id: &str,
                expect: &str,
                u: &$crate::storage::RunUpdate,
                owner: &str,
                now: i64,
            ) -> $crate::storage::Result<bool> {
                let mut tx = self.tx().await?;
                let key_id: Option<String> =
                    sqlx::query_scalar("SELECT key_id FROM runs WHERE id = $1").bind(run_id).fetch_optional(&mut *tx).await?;
                let Some(key_id) = key_id else {
                    tx.rollback().await?;
                    return Ok(false);
                };
                if !fence(&mut tx, &key_id, owner, now).await? {
                    tx.rollback().await?;
                    return Ok(false);
                }
                let done = sqlx::query(
                    "UPDATE runs SET state = $1, tries = $2, not_before = $3, \
                     transaction_hash = COALESCE($4, transaction_hash), rule = $5, error = $6, updated_at = $7 \
                     WHERE id = $8 AND state = $9",
                )
                .bind(&u.state)
                .bind(u.tries)
                .bind(u.not_before)
                .bind(&u.transaction_hash)
                .bind(&u.rule)
                .bind(&u.error)
                .bind(now)
                .bind(run_id)
                .bind(expect)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn record_sends(
                &self,
                sends: &[$crate::storage::NewSend],
                now: i64,
            ) -> $crate::storage::Result<Vec<$crate::storage::SendRecord>> {
                use std::collections::{HashMap, HashSet};

                use sqlx::Row as _;
                use $crate::storage::SendRecord;
                if sends.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.tx().await?;
                // What stands in each send's way, in two reads for the whole batch (a statement's round trip to the
                // database costs more than its work here): whether its token is live, its key still as the request
                // read it, the key busy with an open run, its operation known; then the jobs of its idempotency key.
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT 'key' AS kind, id, grant_token, nonce_lane FROM keys WHERE state = 'active' AND id IN (",
                );
                let mut list = q.separated(", ");
                for s in sends {
                    list.push_bind(&s.job.key_id);
                }
                q.push(") UNION ALL SELECT 'token', id, NULL, 0 FROM api_tokens WHERE revoked_at IS NULL AND id IN (");
                let mut list = q.separated(", ");
                for s in sends {
                    list.push_bind(&s.actor);
                }
                q.push(
                    ") UNION ALL SELECT DISTINCT 'busy', key_id, NULL, 0 FROM runs \
                     WHERE state IN ('pending', 'prepared', 'submitted') AND key_id IN (",
                );
                let mut list = q.separated(", ");
                for s in sends {
                    list.push_bind(&s.job.key_id);
                }
                q.push(") UNION ALL SELECT 'known', user_op_hash, NULL, 0 FROM attempts WHERE user_op_hash IN (");
                let mut list = q.separated(", ");
                // `IN ()` is not SQL: a batch without operations asks for the empty hash.
                list.push_bind("");
                for a in sends.iter().filter_map(|s| s.attempt.as_ref()) {
                    list.push_bind(&a.user_op_hash);
                }
                q.push(")");
                let mut live_keys = HashMap::new();
                let mut live_tokens = HashSet::new();
                let mut busy = HashSet::new();
                let mut known = HashSet::new();
                for row in q.build().fetch_all(&mut *tx).await? {
                    let id: String = row.try_get("id")?;
                    match row.try_get::<String, _>("kind")?.as_str() {
                        "key" => {
                            let seen = $crate::storage::KeySeen {
                                grant_token: row.try_get("grant_token")?,
                                nonce_lane: row.try_get("nonce_lane")?,
                            };
                            live_keys.insert(id, seen);
                        }
                        "token" => {
                            live_tokens.insert(id);
                        }
                        "busy" => {
                            busy.insert(id);
                        }
                        _ => {
                            known.insert(id);
                        }
                    }
                }
                let mut q = sqlx::QueryBuilder::<$db>::new("SELECT * FROM jobs WHERE key_id IN (");
                let mut list = q.separated(", ");
                for s in sends {
                    list.push_bind(&s.job.key_id);
                }
                q.push(") AND idempotency_key IN (");
                let mut list = q.separated(", ");
                for s in sends {
                    list.push_bind(&s.job.idempotency_key);
                }
                q.push(")");
                let mut seen = HashMap::new();
                for row in q.build().fetch_all(&mut *tx).await? {
                    let job = job_row(&row)?;
                    seen.insert((job.key_id.clone(), job.idempotency_key.clone()), job);
                }
                // Each send in order, seeing the ones before it in the batch.
                let mut out = Vec::with_capacity(sends.len());
                let mut taken = Vec::new();
                for s in sends {
                    if !live_tokens.contains(&s.actor) || live_keys.get(&s.job.key_id) != Some(&s.key_seen) {
                        out.push(SendRecord::Stale);
                        continue;
                    }
                    let idem = (s.job.key_id.clone(), s.job.idempotency_key.clone());
                    if let Some(job) = seen.get(&idem) {
                        out.push(SendRecord::Seen(Box::new(job.clone())));
                        continue;
                    }
                    if s.run.state == "prepared" && busy.contains(&s.job.key_id) {
                        out.push(SendRecord::Busy);
                        continue;
                    }
                    if s.attempt.as_ref().is_some_and(|a| known.contains(&a.user_op_hash)) {
                        out.push(SendRecord::Duplicate);
                        continue;
                    }
                    seen.insert(idem, s.job.clone());
                    if $crate::storage::OPEN_STATES.contains(&s.run.state.as_str()) {
                        busy.insert(s.job.key_id.clone());
                    }
                    if let Some(a) = &s.attempt {
                        known.insert(a.user_op_hash.clone());
                    }
                    taken.push(s);
                    out.push(SendRecord::Recorded);
                }
                if !taken.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(JOB_INSERT);
                    q.push_values(&taken, |mut b, s| {
                        let j = &s.job;
                        b.push_bind(&j.id)
                            .push_bind(&j.key_id)
                            .push_bind(&j.calls)
                            .push_bind(&j.schedule)
                            .push_bind(&j.on_refused)
                            .push_bind(&j.catch_up)
                            .push_bind(&j.state)
                            .push_bind(j.next_run_at)
                            .push_bind(&j.idempotency_key)
                            .push_bind(j.created_at);
                    });
                    q.build().execute(&mut *tx).await?;
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO runs (id, job_id, key_id, slot, state, tries, not_before, nonce, period, \
                         user_op_hash, rule, error, created_at, updated_at) ",
                    );
                    q.push_values(&taken, |mut b, s| {
                        let r = &s.run;
                        b.push_bind(&r.id)
                            .push_bind(&r.job_id)
                            .push_bind(&r.key_id)
                            .push_bind(r.slot)
                            .push_bind(&r.state)
                            .push_bind(r.tries)
                            .push_bind(r.not_before)
                            .push_bind(&r.nonce)
                            .push_bind(r.period)
                            .push_bind(&r.user_op_hash)
                            .push_bind(&r.rule)
                            .push_bind(&r.error)
                            .push_bind(now)
                            .push_bind(now);
                    });
                    q.build().execute(&mut *tx).await?;
                    let attempts: Vec<_> = taken.iter().filter_map(|s| s.attempt.as_ref()).collect();
                    if !attempts.is_empty() {
                        let mut q = sqlx::QueryBuilder::<$db>::new(
                            "INSERT INTO attempts (run_id, n, nonce, period, user_op_hash, user_op, created_at) ",
                        );
                        q.push_values(&attempts, |mut b, a| {
                            b.push_bind(&a.run_id)
                                .push_bind(a.n)
                                .push_bind(&a.nonce)
                                .push_bind(a.period)
                                .push_bind(&a.user_op_hash)
                                .push_bind(&a.user_op)
                                .push_bind(a.created_at);
                        });
                        q.build().execute(&mut *tx).await?;
                    }
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO audit (at, actor, action, subject, detail) ");
                    q.push_values(&taken, |mut b, s| {
                        b.push_bind(now)
                            .push_bind(&s.actor)
                            .push_bind("job.create")
                            .push_bind(&s.job.id)
                            .push_bind(&s.detail);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn record_attempt(
                &self,
                a: &$crate::storage::AttemptRow,
                expect: &str,
                owner: &str,
                now: i64,
            ) -> $crate::storage::Result<bool> {
                let mut tx = self.tx().await?;
                let key_id: Option<String> =
                    sqlx::query_scalar("SELECT key_id FROM runs WHERE id = $1").bind(&a.run_id).fetch_optional(&mut *tx).await?;
                let Some(key_id) = key_id else {
                    tx.rollback().await?;
                    return Ok(false);
                };
                if !fence(&mut tx, &key_id, owner, now).await? {
                    tx.rollback().await?;
                    return Ok(false);
                }
                let done = sqlx::query(
                    "UPDATE runs SET state = 'prepared', nonce = $1, period = $2, user_op_hash = $3, updated_at = $4 \
                     WHERE id = $5 AND state = $6",
                )
                .bind(&a.nonce)
                .bind(a.period)
                .bind(&a.user_op_hash)
                .bind(now)
                .bind(&a.run_id)
                .bind(expect)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                sqlx::query(
                    "INSERT INTO attempts (run_id, n, nonce, period, user_op_hash, user_op, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&a.run_id)
                .bind(a.n)
                .bind(&a.nonce)
                .bind(a.period)
                .bind(&a.user_op_hash)
                .bind(&a.user_op)
                .bind(a.created_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn attempts(&self, run_id: &str) -> $crate::storage::Result<Vec<$crate::storage::AttemptRow>> {
                rows(
                    sqlx::query("SELECT * FROM attempts WHERE run_id = $1 ORDER BY n").bind(run_id).fetch_all(&self.pool).await?,
                    attempt_row,
                )
            }

            async fn insert_permission(&self, p: &$crate::storage::PermissionRow) -> $crate::storage::Result<()> {
                sqlx::query(
                    "INSERT INTO permission_requests (id, origin, method, request, fingerprint, state, reason, \
                     grant_token, account, session_id, response, created_at, decided_at, revoke_requested_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&p.id)
                .bind(&p.origin)
                .bind(&p.method)
                .bind(&p.request)
                .bind(&p.fingerprint)
                .bind(&p.state)
                .bind(&p.reason)
                .bind(&p.grant_token)
                .bind(&p.account)
                .bind(&p.session_id)
                .bind(&p.response)
                .bind(p.created_at)
                .bind(p.decided_at)
                .bind(p.revoke_requested_at)
                .execute(&self.writes)
                .await?;
                Ok(())
            }

            async fn permission(&self, id: &str) -> $crate::storage::Result<Option<$crate::storage::PermissionRow>> {
                let row = sqlx::query("SELECT * FROM permission_requests WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(permission_row).transpose()
            }

            async fn pending_permission(
                &self,
                fingerprint: &str,
            ) -> $crate::storage::Result<Option<$crate::storage::PermissionRow>> {
                let row = sqlx::query(
                    "SELECT * FROM permission_requests WHERE fingerprint = $1 AND state = 'pending' \
                     ORDER BY created_at, id LIMIT 1",
                )
                .bind(fingerprint)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(permission_row).transpose()
            }

            async fn granted_permissions(
                &self,
                fingerprint: &str,
            ) -> $crate::storage::Result<Vec<$crate::storage::PermissionRow>> {
                let rows = sqlx::query(
                    "SELECT * FROM permission_requests WHERE fingerprint = $1 AND state = 'granted' \
                     ORDER BY created_at DESC, id",
                )
                .bind(fingerprint)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(permission_row).collect()
            }

            async fn permissions_in(&self, state: &str) -> $crate::storage::Result<Vec<$crate::storage::PermissionRow>> {
                let rows = sqlx::query("SELECT * FROM permission_requests WHERE state = $1 ORDER BY created_at, id")
                    .bind(state)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(permission_row).collect()
            }

            async fn expire_permissions(&self, before: i64, now: i64) -> $crate::storage::Result<u64> {
                let done = sqlx::query(
                    "UPDATE permission_requests SET state = 'expired', reason = 'nobody decided it in time', \
                     decided_at = $2 WHERE state = 'pending' AND created_at < $1",
                )
                .bind(before)
                .bind(now)
                .execute(&self.writes)
                .await?;
                Ok(done.rows_affected())
            }

            async fn pending_permission_count(&self) -> $crate::storage::Result<i64> {
                use sqlx::Row as _;
                let row = sqlx::query("SELECT COUNT(*) AS n FROM permission_requests WHERE state = 'pending'")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("n")?)
            }

            async fn decide_permission(
                &self,
                d: &$crate::storage::PermissionRow,
                now: i64,
            ) -> $crate::storage::Result<bool> {
                let done = sqlx::query(
                    "UPDATE permission_requests SET state = $2, reason = $3, grant_token = $4, account = $5, \
                     session_id = $6, response = $7, decided_at = $8 WHERE id = $1 AND state = 'pending'",
                )
                .bind(&d.id)
                .bind(&d.state)
                .bind(&d.reason)
                .bind(&d.grant_token)
                .bind(&d.account)
                .bind(&d.session_id)
                .bind(&d.response)
                .bind(now)
                .execute(&self.writes)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn request_permission_revocation(&self, id: &str, now: i64) -> $crate::storage::Result<bool> {
                let done = sqlx::query(
                    "UPDATE permission_requests SET revoke_requested_at = COALESCE(revoke_requested_at, $2) \
                     WHERE id = $1 AND state = 'granted'",
                )
                .bind(id)
                .bind(now)
                .execute(&self.writes)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn audit(
                &self,
                actor: &str,
                action: &str,
                subject: &str,
                detail: &str,
                now: i64,
            ) -> $crate::storage::Result<()> {
                sqlx::query("INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)")
                    .bind(now)
                    .bind(actor)
                    .bind(action)
                    .bind(subject)
                    .bind(detail)
                    .execute(&self.writes)
                    .await?;
                Ok(())
            }

            async fn audit_log(&self, after: i64, limit: i64) -> $crate::storage::Result<Vec<$crate::storage::AuditRow>> {
                use sqlx::Row as _;
                let rows = sqlx::query("SELECT * FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2")
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::storage::AuditRow {
                            seq: r.try_get("seq")?,
                            at: r.try_get("at")?,
                            actor: r.try_get("actor")?,
                            action: r.try_get("action")?,
                            subject: r.try_get("subject")?,
                            detail: r.try_get("detail")?,
                        })
                    })
                    .collect()
            }
        }
    };
}
pub(crate) use sql_storage;

/// The lease claim both back ends run; `{lock}` is Postgres' `FOR UPDATE OF k SKIP LOCKED` or nothing (SQLite has
/// one writer at a time, so the statement is atomic as it is).
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE keys SET lease_owner = $1, lease_until = $3 WHERE id IN (",
            "SELECT k.id FROM keys k WHERE k.lease_until < $2 AND (",
            "EXISTS (SELECT 1 FROM runs r WHERE r.key_id = k.id AND r.state IN ('pending', 'prepared', 'submitted') ",
            "AND r.not_before <= $2) ",
            "OR EXISTS (SELECT 1 FROM jobs j WHERE j.key_id = k.id AND j.state = 'active' AND j.next_run_at <= $2)) ",
            "ORDER BY k.lease_until, k.id LIMIT $4 ",
            $lock,
            ") RETURNING id"
        )
    };
}
pub(crate) use claim_sql;
