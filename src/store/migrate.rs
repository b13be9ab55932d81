//! Reversible schema migrations, embedded in the binary.
//!
//! Each backend has its own directory (`migrations/sqlite`,
//! `migrations/postgres`) with `<version>_<name>.up.sql` / `.down.sql` pairs:
//! the dialects differ in types and triggers, the version numbers do not.

use serde::Serialize;
use sqlx::migrate::{Migrate, Migrator};

use super::Pool;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// One known migration and whether the database has it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

fn migrator(pool: &Pool) -> &'static Migrator {
    match pool {
        Pool::Sqlite(_) => &SQLITE,
        Pool::Postgres(_) => &POSTGRES,
    }
}

/// Applies every pending migration.
pub async fn up(pool: &Pool) -> anyhow::Result<()> {
    match pool {
        Pool::Sqlite(p) => SQLITE.run(p).await?,
        Pool::Postgres(p) => POSTGRES.run(p).await?,
    }
    Ok(())
}

/// Reverts the newest `steps` applied migrations.
pub async fn down(pool: &Pool, steps: usize) -> anyhow::Result<Vec<i64>> {
    let mut applied: Vec<i64> =
        status(pool).await?.into_iter().filter(|m| m.applied).map(|m| m.version).collect();
    applied.sort_unstable();
    let keep = applied.len().saturating_sub(steps);
    let target = if keep == 0 { 0 } else { applied[keep - 1] };
    let reverted = applied[keep..].to_vec();
    match pool {
        Pool::Sqlite(p) => SQLITE.undo(p, target).await?,
        Pool::Postgres(p) => POSTGRES.undo(p, target).await?,
    }
    Ok(reverted)
}

/// Every migration the binary knows, oldest first, with its state.
pub async fn status(pool: &Pool) -> anyhow::Result<Vec<MigrationStatus>> {
    const TABLE: &str = "_sqlx_migrations";
    let applied = match pool {
        Pool::Sqlite(p) => {
            let mut conn = p.acquire().await?;
            conn.ensure_migrations_table(TABLE).await?;
            conn.list_applied_migrations(TABLE).await?
        }
        Pool::Postgres(p) => {
            let mut conn = p.acquire().await?;
            conn.ensure_migrations_table(TABLE).await?;
            conn.list_applied_migrations(TABLE).await?
        }
    };
    Ok(migrator(pool)
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| MigrationStatus {
            version: m.version,
            description: m.description.to_string(),
            applied: applied.iter().any(|a| a.version == m.version),
        })
        .collect())
}
