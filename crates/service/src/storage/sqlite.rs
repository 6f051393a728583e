//! SQLite: the default, a file in the data directory created on first start, migrated from
//! `migrations/sqlite`. One instance per file (SQLite's single writer makes the lease claim atomic).
//!
//! Writes go through one connection of their own: SQLite has one writer at a time anyway, and a
//! connection that alone writes keeps its page cache (a connection drops its cache when another one wrote).
//! Checkpoints (copying the WAL back into the database) run in the background between write transactions, on
//! the writer's connection, so no commit waits for one and each one can complete: a checkpoint that runs while
//! the writer appends never catches up with it, and SQLite then never restarts the WAL, which grows without
//! bound (647 MB in ten seconds of the benchmark before this was found).

use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Result, claim_sql, sql_storage};

/// How often the background checkpoint runs while the WAL grows: often enough that each copies little, so a
/// transaction waiting behind one waits briefly, and the WAL stays small.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

/// How often it runs at most when nothing was written since the last one (an idle service).
const CHECKPOINT_IDLE: Duration = Duration::from_secs(1);

/// The size the WAL is cut back to when it restarts after a burst that grew it (bytes).
const WAL_SIZE_LIMIT: &str = "67108864";

/// Storage in an SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStorage {
    pool: sqlx::SqlitePool,
    /// The one connection every write uses.
    writes: sqlx::SqlitePool,
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
            .pragma("temp_store", "memory")
            .pragma("journal_size_limit", WAL_SIZE_LIMIT);
        // Enough connections that the API's reads never wait for one behind others.
        let pool = SqlitePoolOptions::new().max_connections(16).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // 32 MiB of page cache for the writer, which keeps it (the readers' default is 2 MiB).
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.pragma("cache_size", "-32768"))
            .await?;
        let (stop, mut stopped) = tokio::sync::watch::channel(());
        let checkpointer = writes.clone();
        tokio::spawn(async move {
            let (mut every, mut frames_before) = (CHECKPOINT_EVERY, -1);
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(every) => {}
                }
                // On the writer's one connection, so between two transactions: everything in the WAL is copied
                // (readers are short; PASSIVE never waits for them), and the next write starts the WAL over. A
                // failure is retried at the next turn; the WAL only grows meanwhile.
                match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&checkpointer)
                    .await
                {
                    Ok((_, frames, _)) => {
                        // The same frame count twice: nothing was written in between; back off while idle.
                        every = if frames == frames_before {
                            (every * 2).min(CHECKPOINT_IDLE)
                        } else {
                            CHECKPOINT_EVERY
                        };
                        frames_before = frames;
                    }
                    Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; retrying"),
                }
            }
        });
        Ok(Self { pool, writes, _checkpoints: Arc::new(stop) })
    }

    /// The pool (for tests that read the schema).
    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }

    /// A write transaction: `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads and then
    /// writes waits its turn (busy timeout) instead of failing with SQLITE_BUSY when another writer got there first.
    async fn tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writes.begin_with("BEGIN IMMEDIATE").await?)
    }
}

sql_storage!(SqliteStorage, sqlx::Sqlite, "sqlite", claim_sql!(""));
