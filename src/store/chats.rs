//! Per-chat settings (archived, pinned, muted until), as last set through
//! the API or reported from the phone. Only chats that have any are stored;
//! a chat without a row has every setting off.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Pool, Postgres, Sqlite};

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChatSettings {
    pub chat_jid: String,
    pub archived: bool,
    pub pinned: bool,
    /// When the mute ends (far in the future: muted for good); None: not muted.
    pub muted_until: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A change; None leaves that setting as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChatSettingsChange {
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    /// Some(None) unmutes.
    pub muted_until: Option<Option<DateTime<Utc>>>,
}

#[async_trait]
pub trait ChatSettingsRepo: Send + Sync {
    /// Applies `change` to the chat's settings and returns them.
    async fn apply(
        &self,
        session_id: &str,
        chat_jid: &str,
        change: &ChatSettingsChange,
    ) -> StoreResult<ChatSettings>;
    /// The settings of those of `chats` that have any.
    async fn get_many(&self, session_id: &str, chats: &[String]) -> StoreResult<Vec<ChatSettings>>;
    /// How many chats are pinned.
    async fn count_pinned(&self, session_id: &str) -> StoreResult<i64>;
}

pub struct SqlChats<DB: sqlx::Database> {
    pool: Pool<DB>,
}

impl<DB: sqlx::Database> SqlChats<DB> {
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }
}

macro_rules! impl_chats {
    ($db:ty) => {
        #[async_trait]
        impl ChatSettingsRepo for SqlChats<$db> {
            async fn apply(
                &self,
                session_id: &str,
                chat_jid: &str,
                change: &ChatSettingsChange,
            ) -> StoreResult<ChatSettings> {
                Ok(sqlx::query_as::<$db, ChatSettings>(
                    "INSERT INTO chat_settings (session_id, chat_jid, archived, pinned, muted_until, updated_at) \
                     VALUES ($1, $2, COALESCE($3, FALSE), COALESCE($4, FALSE), $5, $7) \
                     ON CONFLICT (session_id, chat_jid) DO UPDATE SET \
                     archived = COALESCE($3, chat_settings.archived), \
                     pinned = COALESCE($4, chat_settings.pinned), \
                     muted_until = CASE WHEN $6 THEN $5 ELSE chat_settings.muted_until END, \
                     updated_at = $7 \
                     RETURNING chat_jid, archived, pinned, muted_until, updated_at",
                )
                .bind(session_id)
                .bind(chat_jid)
                .bind(change.archived)
                .bind(change.pinned)
                .bind(change.muted_until.flatten())
                .bind(change.muted_until.is_some())
                .bind(Utc::now())
                .fetch_one(&self.pool)
                .await?)
            }

            async fn get_many(&self, session_id: &str, chats: &[String]) -> StoreResult<Vec<ChatSettings>> {
                let mut found = Vec::new();
                for chunk in chats.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT chat_jid, archived, pinned, muted_until, updated_at FROM chat_settings WHERE session_id = ",
                    );
                    q.push_bind(session_id).push(" AND chat_jid");
                    super::push_in(&mut q, chunk);
                    found.extend(q.build_query_as::<ChatSettings>().fetch_all(&self.pool).await?);
                }
                Ok(found)
            }

            async fn count_pinned(&self, session_id: &str) -> StoreResult<i64> {
                Ok(sqlx::query_scalar::<$db, i64>(
                    "SELECT COUNT(*) FROM chat_settings WHERE session_id = $1 AND pinned",
                )
                .bind(session_id)
                .fetch_one(&self.pool)
                .await?)
            }
        }
    };
}

impl_chats!(Postgres);
impl_chats!(Sqlite);
