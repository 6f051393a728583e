//! SQLite: the default, a file in the data directory created on first start, migrated from
//! `migrations/sqlite`. One instance per file (SQLite's single writer makes the lease claim atomic).

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Result, claim_sql, sql_storage};

/// Storage in an SQLite file.
#[derive(Clone, Debug)]
pub struct SqliteStorage {
    pool: sqlx::SqlitePool,
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
            .busy_timeout(std::time::Duration::from_secs(10));
        // Enough connections that the API's reads never queue the writer (group commit, the worker) behind them:
        // WAL readers don't block the writer, but a pool acquire is first come, first served.
        let pool = SqlitePoolOptions::new().max_connections(16).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The pool (for tests that read the schema).
    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }

    /// A write transaction: `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads and then
    /// writes waits its turn (busy timeout) instead of failing with SQLITE_BUSY when another writer got there first.
    async fn tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

sql_storage!(SqliteStorage, sqlx::Sqlite, "sqlite", claim_sql!(""));
