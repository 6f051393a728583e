//! SQLite: the default, a file in the data directory created on first start, migrated from
//! `migrations/sqlite`. One instance per file (SQLite's single writer makes the lease claim atomic).
//!
//! Write transactions go through one connection of their own: SQLite has one writer at a time anyway, and a
//! connection that alone writes keeps its page cache (a connection drops its cache when another one wrote).
//! Checkpoints (copying the WAL back into the database) run on a reader connection in the background, so no
//! commit waits for one.

use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Result, claim_sql, sql_storage};

/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Storage in an SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStorage {
    pool: sqlx::SqlitePool,
    /// The one connection write transactions use.
    writer: sqlx::SqlitePool,
    /// Ends the checkpoint task when the last clone is dropped.
    _checkpoints: Arc<tokio::sync::watch::Sender<()>>,
}

impl SqliteStorage {
    /// Opens (creating it if missing) and migrates the database at `url` (`sqlite://path`).
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // WAL with full sync: a committed run record survives kill -9 and power loss.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // The background task checkpoints; a commit never does.
            .pragma("wal_autocheckpoint", "0")
            // A multi-row insert keeps its statement journal in memory, not in a temporary file.
            .pragma("temp_store", "memory");
        // Enough connections that the API's reads never wait for one behind others.
        let pool = SqlitePoolOptions::new().max_connections(16).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // 32 MiB of page cache for the writer, which keeps it (the readers' default is 2 MiB).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.pragma("cache_size", "-32768"))
            .await?;
        let (stop, mut stopped) = tokio::sync::watch::channel(());
        let readers = pool.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(CHECKPOINT_EVERY) => {}
                }
                // PASSIVE: copies what no reader still needs and never blocks the writer. A failure is retried
                // at the next turn; the WAL only grows meanwhile.
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&readers).await {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
                }
            }
        });
        Ok(Self { pool, writer, _checkpoints: Arc::new(stop) })
    }

    /// The pool (for tests that read the schema).
    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }

    /// A write transaction: `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads and then
    /// writes waits its turn (busy timeout) instead of failing with SQLITE_BUSY when another writer got there first.
    async fn tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

sql_storage!(SqliteStorage, sqlx::Sqlite, "sqlite", claim_sql!(""));
