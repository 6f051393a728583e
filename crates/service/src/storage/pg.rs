//! PostgreSQL: for several instances sharing the jobs, migrated from `migrations/postgres`. Leases are claimed
//! with `FOR UPDATE SKIP LOCKED`, so two instances never claim one key, and an expired lease (a dead
//! instance's) is taken over.

use sqlx::postgres::PgPoolOptions;

use super::{Result, claim_sql, sql_storage};

/// Storage in a PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PgStorage {
    pool: sqlx::PgPool,
    /// The same pool: PostgreSQL writes concurrently (the storage macro names the pool writes use).
    writes: sqlx::PgPool,
}

impl PgStorage {
    /// Connects to `url` (`postgres://…`) and migrates the database.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { writes: pool.clone(), pool })
    }

    /// The pool (for tests that read the schema).
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// A transaction (READ COMMITTED; the lease fence takes the key's row lock).
    async fn tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.writes.begin().await?)
    }
}

sql_storage!(PgStorage, sqlx::Postgres, "postgres", claim_sql!("FOR UPDATE OF k SKIP LOCKED"));
