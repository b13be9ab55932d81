//! Labels and the chats each one is on, as last set through the API or
//! reported from the phone. Deleting a label takes its chats along.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Pool, Postgres, Sqlite};

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Label {
    pub label_id: String,
    pub name: String,
    /// WhatsApp's colour index.
    pub color: i32,
    pub updated_at: DateTime<Utc>,
    /// How many chats carry it.
    pub chats: i64,
}

#[async_trait]
pub trait LabelRepo: Send + Sync {
    /// Creates or changes a label; None leaves that field as it is (a new
    /// label without a name is not created: None).
    async fn put(
        &self,
        session_id: &str,
        label_id: &str,
        name: Option<&str>,
        color: Option<i32>,
    ) -> StoreResult<Option<Label>>;
    /// Removes a label and its chats; false when there was none.
    async fn delete(&self, session_id: &str, label_id: &str) -> StoreResult<bool>;
    async fn get(&self, session_id: &str, label_id: &str) -> StoreResult<Option<Label>>;
    /// Every label, by id (numerically where ids are numbers).
    async fn list(&self, session_id: &str) -> StoreResult<Vec<Label>>;
    /// Puts the label on the chat or takes it off; true when that changed
    /// something. `MissingReference` for a label the session does not have.
    async fn set_chat(&self, session_id: &str, label_id: &str, chat_jid: &str, on: bool)
    -> StoreResult<bool>;
    /// The chats a label is on, sorted.
    async fn chats(&self, session_id: &str, label_id: &str) -> StoreResult<Vec<String>>;
    /// (chat, label) of those of `chats` that carry any.
    async fn of_chats(&self, session_id: &str, chats: &[String]) -> StoreResult<Vec<(String, String)>>;
}

pub struct SqlLabels<DB: sqlx::Database> {
    pool: Pool<DB>,
}

impl<DB: sqlx::Database> SqlLabels<DB> {
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }
}

/// A session's labels with their chat counts (`$1` the session).
macro_rules! label_select {
    () => {
        "SELECT l.label_id, l.name, l.color, l.updated_at, \
         (SELECT COUNT(*) FROM chat_labels c WHERE c.session_id = l.session_id AND c.label_id = l.label_id) AS chats \
         FROM labels l WHERE l.session_id = $1"
    };
}

macro_rules! impl_labels {
    ($db:ty) => {
        #[async_trait]
        impl LabelRepo for SqlLabels<$db> {
            async fn put(
                &self,
                session_id: &str,
                label_id: &str,
                name: Option<&str>,
                color: Option<i32>,
            ) -> StoreResult<Option<Label>> {
                let now = Utc::now();
                let changed = match name {
                    Some(name) => sqlx::query::<$db>(
                        "INSERT INTO labels (session_id, label_id, name, color, updated_at) \
                         VALUES ($1, $2, $3, COALESCE($4, 0), $5) \
                         ON CONFLICT (session_id, label_id) DO UPDATE SET name = excluded.name, \
                         color = COALESCE($4, labels.color), updated_at = excluded.updated_at",
                    )
                    .bind(session_id)
                    .bind(label_id)
                    .bind(name)
                    .bind(color)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected(),
                    None => sqlx::query::<$db>(
                        "UPDATE labels SET color = COALESCE($3, color), updated_at = $4 \
                         WHERE session_id = $1 AND label_id = $2",
                    )
                    .bind(session_id)
                    .bind(label_id)
                    .bind(color)
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected(),
                };
                if changed == 0 {
                    return Ok(None);
                }
                self.get(session_id, label_id).await
            }

            async fn delete(&self, session_id: &str, label_id: &str) -> StoreResult<bool> {
                let gone = sqlx::query::<$db>("DELETE FROM labels WHERE session_id = $1 AND label_id = $2")
                    .bind(session_id)
                    .bind(label_id)
                    .execute(&self.pool)
                    .await?;
                Ok(gone.rows_affected() > 0)
            }

            async fn get(&self, session_id: &str, label_id: &str) -> StoreResult<Option<Label>> {
                Ok(sqlx::query_as::<$db, Label>(
                    concat!(label_select!(), " AND l.label_id = $2"),
                )
                .bind(session_id)
                .bind(label_id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn list(&self, session_id: &str) -> StoreResult<Vec<Label>> {
                let mut labels = sqlx::query_as::<$db, Label>(
                    label_select!(),
                )
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
                labels.sort_by(|a, b| order(&a.label_id).cmp(&order(&b.label_id)));
                Ok(labels)
            }

            async fn set_chat(&self, session_id: &str, label_id: &str, chat_jid: &str, on: bool) -> StoreResult<bool> {
                let q = if on {
                    "INSERT INTO chat_labels (session_id, label_id, chat_jid) VALUES ($1, $2, $3) \
                     ON CONFLICT (session_id, label_id, chat_jid) DO NOTHING"
                } else {
                    "DELETE FROM chat_labels WHERE session_id = $1 AND label_id = $2 AND chat_jid = $3"
                };
                let done = sqlx::query::<$db>(q)
                    .bind(session_id)
                    .bind(label_id)
                    .bind(chat_jid)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn chats(&self, session_id: &str, label_id: &str) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar::<$db, String>(
                    "SELECT chat_jid FROM chat_labels WHERE session_id = $1 AND label_id = $2 ORDER BY chat_jid",
                )
                .bind(session_id)
                .bind(label_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn of_chats(&self, session_id: &str, chats: &[String]) -> StoreResult<Vec<(String, String)>> {
                let mut found = Vec::new();
                for chunk in chats.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT chat_jid, label_id FROM chat_labels WHERE session_id = ",
                    );
                    q.push_bind(session_id).push(" AND chat_jid");
                    super::push_in(&mut q, chunk);
                    found.extend(q.build_query_as::<(String, String)>().fetch_all(&self.pool).await?);
                }
                found.sort_by(|a, b| (&a.0, order(&a.1)).cmp(&(&b.0, order(&b.1))));
                Ok(found)
            }
        }
    };
}

impl_labels!(Postgres);
impl_labels!(Sqlite);

/// WhatsApp's label ids are small numbers: "10" after "9".
fn order(id: &str) -> (u64, &str) {
    (id.parse().unwrap_or(u64::MAX), id)
}
