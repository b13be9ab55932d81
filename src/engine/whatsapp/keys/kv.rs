//! The few SQL primitives the key store is built from, written once in the
//! dialect PostgreSQL and SQLite share and stamped out per database.
//!
//! Every row belongs to one session (`session_id`), one map (`kind`) and one
//! `scope` within it; see the migration `whatsapp_keys` for the columns.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Pool, Postgres, QueryBuilder, Sqlite};

use crate::store::push_in;

/// A stored row's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub v: Vec<u8>,
    pub n1: i64,
    pub n2: Option<i64>,
}

/// A row to write.
#[derive(Debug, Clone)]
pub struct Put {
    pub scope: String,
    pub k: String,
    pub row: Row,
}

impl Put {
    pub fn new(scope: impl Into<String>, k: impl Into<String>, v: Vec<u8>, n1: i64, n2: Option<i64>) -> Self {
        Self { scope: scope.into(), k: k.into(), row: Row { v, n1, n2 } }
    }
}

/// How an insert treats a row that already exists. The SQL is fixed text
/// (never built from input); `fold` applies the same rule to two writes of
/// one key inside a batch, which a multi-row upsert cannot do itself.
pub struct Upsert {
    pub on_conflict: &'static str,
    pub fold: fn(&mut Row, Row),
}

/// Last write wins.
pub const REPLACE: Upsert = Upsert {
    on_conflict: "DO UPDATE SET v = excluded.v, n1 = excluded.n1, n2 = excluded.n2",
    fold: |old, new| *old = new,
};

/// Which rows a sweep deletes.
#[derive(Debug, Clone, Copy)]
pub enum Sweep {
    /// `n1 < cutoff` (rows stamped with their insert time).
    N1Before(i64),
    /// `n1 != 0 AND n1 <= cutoff` (rows with a deadline, 0 = never).
    DeadlinePassed(i64),
    /// Neither a live token (`v` non-empty, `n1 >= token`) nor a live sender
    /// stamp (`n2 >= sender`).
    StaleToken { token: i64, sender: i64 },
}

macro_rules! sweep_head {
    () => {
        "DELETE FROM wa_keys WHERE session_id = $1 AND kind = $2"
    };
}

impl Sweep {
    fn sql(self) -> (&'static str, i64, i64) {
        match self {
            Sweep::N1Before(c) => (concat!(sweep_head!(), " AND n1 < $3 AND $4 = $4"), c, 0),
            Sweep::DeadlinePassed(c) => {
                (concat!(sweep_head!(), " AND n1 <> 0 AND n1 <= $3 AND $4 = $4"), c, 0)
            }
            Sweep::StaleToken { token, sender } => (
                concat!(
                    sweep_head!(),
                    " AND NOT ((length(v) > 0 AND n1 >= $3) OR (n2 IS NOT NULL AND n2 >= $4))"
                ),
                token,
                sender,
            ),
        }
    }
}

pub type KvResult<T> = Result<T, sqlx::Error>;

/// The primitives, object-safe so one `KeyStore` serves both databases.
#[async_trait]
pub trait Kv: Send + Sync {
    async fn get(&self, kind: i16, scope: &str, k: &str) -> KvResult<Option<Row>>;
    async fn get_many(&self, kind: i16, scope: &str, ks: &[String]) -> KvResult<HashMap<String, Row>>;
    /// Every row of a map, or of one scope of it: `(scope, k, row)`.
    async fn list(&self, kind: i16, scope: Option<&str>) -> KvResult<Vec<(String, String, Row)>>;
    /// Writes rows in one transaction (several statements for big batches).
    async fn put(&self, kind: i16, rows: Vec<Put>, upsert: &Upsert) -> KvResult<()>;
    /// Deletes keys in a scope, or with `None` in whatever scope they are.
    async fn delete(&self, kind: i16, scope: Option<&str>, ks: &[String]) -> KvResult<u64>;
    /// Deletes a scope, or with `None` the whole map.
    async fn clear(&self, kind: i16, scope: Option<&str>) -> KvResult<u64>;
    /// Deletes one row and returns its value (atomic take).
    async fn take(&self, kind: i16, scope: &str, k: &str) -> KvResult<Option<Vec<u8>>>;
    async fn sweep(&self, kind: i16, sweep: Sweep) -> KvResult<u64>;
    /// Sets `n1` on existing rows only (never inserts).
    async fn set_n1(&self, kind: i16, scope: &str, ks: &[String], n1: i64) -> KvResult<()>;
    async fn max_n2(&self, kind: i16) -> KvResult<Option<i64>>;
    /// Whether a map holds a key `user@…` or `user:…` in the default scope.
    async fn any_for_user(&self, kinds: &[i16], user: &str) -> KvResult<bool>;
    /// Erases the session's whole key store.
    async fn erase(&self) -> KvResult<u64>;
}

/// Rows per statement: 7 parameters each stays far below SQLite's 32,766.
const CHUNK: usize = 500;

/// Collapses writes to the same key, in order, so one statement never
/// touches a row twice (PostgreSQL refuses that).
fn fold_batch(rows: Vec<Put>, fold: fn(&mut Row, Row)) -> Vec<Put> {
    let mut out: Vec<Put> = Vec::with_capacity(rows.len());
    let mut at: HashMap<(String, String), usize> = HashMap::with_capacity(rows.len());
    for put in rows {
        match at.get(&(put.scope.clone(), put.k.clone())) {
            Some(&i) => fold(&mut out[i].row, put.row),
            None => {
                at.insert((put.scope.clone(), put.k.clone()), out.len());
                out.push(put);
            }
        }
    }
    out
}

/// One database's pool plus the session every statement is scoped to.
pub struct SqlKv<DB: sqlx::Database> {
    pool: Pool<DB>,
    session: Arc<str>,
}

impl<DB: sqlx::Database> SqlKv<DB> {
    pub fn new(pool: Pool<DB>, session: &str) -> Self {
        Self { pool, session: Arc::from(session) }
    }
}

type Listed = (String, String, Vec<u8>, i64, Option<i64>);

fn listed((scope, k, v, n1, n2): Listed) -> (String, String, Row) {
    (scope, k, Row { v, n1, n2 })
}

macro_rules! impl_kv {
    ($db:ty) => {
        impl SqlKv<$db> {
            /// ` WHERE` the session's rows of `kind` (in `scope`, if given)
            /// whose key is one of `keys`.
            fn keyed(&self, q: &mut QueryBuilder<$db>, kind: i16, scope: Option<&str>, keys: &[String]) {
                q.push(" WHERE session_id = ").push_bind(&*self.session).push(" AND kind = ").push_bind(kind);
                if let Some(scope) = scope {
                    q.push(" AND scope = ").push_bind(scope);
                }
                q.push(" AND k");
                push_in(q, keys);
            }
        }

        #[async_trait]
        impl Kv for SqlKv<$db> {
            async fn get(&self, kind: i16, scope: &str, k: &str) -> KvResult<Option<Row>> {
                let row: Option<(Vec<u8>, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT v, n1, n2 FROM wa_keys WHERE session_id = $1 AND kind = $2 AND scope = $3 AND k = $4",
                )
                .bind(&*self.session)
                .bind(kind)
                .bind(scope)
                .bind(k)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(v, n1, n2)| Row { v, n1, n2 }))
            }

            async fn get_many(&self, kind: i16, scope: &str, ks: &[String]) -> KvResult<HashMap<String, Row>> {
                let mut out = HashMap::with_capacity(ks.len());
                for chunk in ks.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("SELECT scope, k, v, n1, n2 FROM wa_keys");
                    self.keyed(&mut q, kind, Some(scope), chunk);
                    for (_, k, row) in q.build_query_as::<Listed>().fetch_all(&self.pool).await?.into_iter().map(listed) {
                        out.insert(k, row);
                    }
                }
                Ok(out)
            }

            async fn list(&self, kind: i16, scope: Option<&str>) -> KvResult<Vec<(String, String, Row)>> {
                let mut q = QueryBuilder::<$db>::new("SELECT scope, k, v, n1, n2 FROM wa_keys WHERE session_id = ");
                q.push_bind(&*self.session).push(" AND kind = ").push_bind(kind);
                if let Some(scope) = scope {
                    q.push(" AND scope = ").push_bind(scope);
                }
                q.push(" ORDER BY scope, k");
                Ok(q.build_query_as::<Listed>().fetch_all(&self.pool).await?.into_iter().map(listed).collect())
            }

            async fn put(&self, kind: i16, rows: Vec<Put>, upsert: &Upsert) -> KvResult<()> {
                if rows.is_empty() {
                    return Ok(());
                }
                let rows = fold_batch(rows, upsert.fold);
                let mut tx = self.pool.begin().await?;
                for chunk in rows.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("INSERT INTO wa_keys (session_id, kind, scope, k, v, n1, n2) ");
                    q.push_values(chunk, |mut b, put| {
                        b.push_bind(&*self.session)
                            .push_bind(kind)
                            .push_bind(&put.scope)
                            .push_bind(&put.k)
                            .push_bind(&put.row.v)
                            .push_bind(put.row.n1)
                            .push_bind(put.row.n2);
                    });
                    q.push(" ON CONFLICT (session_id, kind, scope, k) ").push(upsert.on_conflict);
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await
            }

            async fn delete(&self, kind: i16, scope: Option<&str>, ks: &[String]) -> KvResult<u64> {
                let mut n = 0;
                for chunk in ks.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("DELETE FROM wa_keys");
                    self.keyed(&mut q, kind, scope, chunk);
                    n += q.build().execute(&self.pool).await?.rows_affected();
                }
                Ok(n)
            }

            async fn clear(&self, kind: i16, scope: Option<&str>) -> KvResult<u64> {
                let mut q = QueryBuilder::<$db>::new("DELETE FROM wa_keys WHERE session_id = ");
                q.push_bind(&*self.session).push(" AND kind = ").push_bind(kind);
                if let Some(scope) = scope {
                    q.push(" AND scope = ").push_bind(scope);
                }
                Ok(q.build().execute(&self.pool).await?.rows_affected())
            }

            async fn take(&self, kind: i16, scope: &str, k: &str) -> KvResult<Option<Vec<u8>>> {
                sqlx::query_scalar(
                    "DELETE FROM wa_keys WHERE session_id = $1 AND kind = $2 AND scope = $3 AND k = $4 RETURNING v",
                )
                .bind(&*self.session)
                .bind(kind)
                .bind(scope)
                .bind(k)
                .fetch_optional(&self.pool)
                .await
            }

            async fn sweep(&self, kind: i16, sweep: Sweep) -> KvResult<u64> {
                let (sql, a, b) = sweep.sql();
                Ok(sqlx::query(sql)
                    .bind(&*self.session)
                    .bind(kind)
                    .bind(a)
                    .bind(b)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn set_n1(&self, kind: i16, scope: &str, ks: &[String], n1: i64) -> KvResult<()> {
                for chunk in ks.chunks(CHUNK) {
                    let mut q = QueryBuilder::<$db>::new("UPDATE wa_keys SET n1 = ");
                    q.push_bind(n1);
                    self.keyed(&mut q, kind, Some(scope), chunk);
                    q.build().execute(&self.pool).await?;
                }
                Ok(())
            }

            async fn max_n2(&self, kind: i16) -> KvResult<Option<i64>> {
                sqlx::query_scalar("SELECT MAX(n2) FROM wa_keys WHERE session_id = $1 AND kind = $2")
                    .bind(&*self.session)
                    .bind(kind)
                    .fetch_one(&self.pool)
                    .await
            }

            async fn any_for_user(&self, kinds: &[i16], user: &str) -> KvResult<bool> {
                let mut q = QueryBuilder::<$db>::new("SELECT 1 FROM wa_keys WHERE session_id = ");
                q.push_bind(&*self.session).push(" AND scope = '' AND kind");
                push_in(&mut q, kinds.iter().copied());
                // substr, not LIKE: a user part is matched literally.
                q.push(" AND substr(k, 1, ").push_bind(i32::try_from(user.chars().count()).unwrap_or(i32::MAX - 1) + 1).push(") IN (");
                q.push_bind(format!("{user}@")).push(", ").push_bind(format!("{user}:")).push(") LIMIT 1");
                Ok(q.build().fetch_optional(&self.pool).await?.is_some())
            }

            async fn erase(&self) -> KvResult<u64> {
                Ok(sqlx::query("DELETE FROM wa_keys WHERE session_id = $1")
                    .bind(&*self.session)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }
    };
}

impl_kv!(Postgres);
impl_kv!(Sqlite);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_folds_writes_to_one_key_in_order() {
        let rows = vec![
            Put::new("", "a", vec![1], 1, None),
            Put::new("", "b", vec![2], 2, None),
            Put::new("", "a", vec![3], 3, Some(3)),
            Put::new("x", "a", vec![4], 4, None),
        ];
        let out = fold_batch(rows, REPLACE.fold);
        let got: Vec<_> = out.iter().map(|p| (p.scope.as_str(), p.k.as_str(), p.row.v[0])).collect();
        assert_eq!(got, [("", "a", 3), ("", "b", 2), ("x", "a", 4)]);
    }
}
