//! The account's contacts: the name saved in its address book and the push
//! name each person chose. A row exists for everyone the session has heard
//! of; a change that changes nothing writes nothing and reports nothing, so
//! callers announce only real changes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Pool, Postgres, Sqlite};

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Contact {
    pub jid: String,
    /// The full name saved in the account's address book.
    pub name: Option<String>,
    pub first_name: Option<String>,
    /// The name the person chose for themselves.
    pub push_name: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What is learnt about a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactChange {
    /// Saved (or renamed) in the address book.
    Saved { name: String, first_name: Option<String> },
    /// Their own name, as their messages carry it.
    PushName(String),
}

#[async_trait]
pub trait ContactRepo: Send + Sync {
    /// Applies `change`; the contact when that changed it, None when it
    /// already was so.
    async fn apply(
        &self,
        session_id: &str,
        jid: &str,
        change: &ContactChange,
    ) -> StoreResult<Option<Contact>>;
    async fn get(&self, session_id: &str, jid: &str) -> StoreResult<Option<Contact>>;
    /// Contacts ordered by JID, after `after`, whose JID or either name
    /// contains `search` (case-insensitively for ASCII).
    async fn list(
        &self,
        session_id: &str,
        search: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Contact>>;
    /// Everyone saved in the address book (with a name), by JID.
    async fn saved(&self, session_id: &str) -> StoreResult<Vec<String>>;
    /// Those of `jids` the session knows.
    async fn get_many(&self, session_id: &str, jids: &[String]) -> StoreResult<Vec<Contact>>;
}

pub struct SqlContacts<DB: sqlx::Database> {
    pool: Pool<DB>,
}

impl<DB: sqlx::Database> SqlContacts<DB> {
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }
}

const COLUMNS: &str = "jid, name, first_name, push_name, updated_at";

/// `search` as a LIKE pattern matching it anywhere, its wildcards escaped
/// (with `\`).
fn like_pattern(search: &str) -> String {
    let mut p = String::with_capacity(search.len() + 2);
    p.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

macro_rules! impl_contacts {
    ($db:ty, $like:literal) => {
        #[async_trait]
        impl ContactRepo for SqlContacts<$db> {
            async fn apply(
                &self,
                session_id: &str,
                jid: &str,
                change: &ContactChange,
            ) -> StoreResult<Option<Contact>> {
                // The WHERE of DO UPDATE skips a write that changes nothing;
                // RETURNING then yields no row.
                let q = match change {
                    ContactChange::Saved { name, first_name } => sqlx::query_as::<$db, Contact>(
                        "INSERT INTO contacts (session_id, jid, name, first_name, updated_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (session_id, jid) DO UPDATE SET name = excluded.name, \
                         first_name = excluded.first_name, updated_at = excluded.updated_at \
                         WHERE contacts.name IS DISTINCT FROM excluded.name \
                         OR contacts.first_name IS DISTINCT FROM excluded.first_name \
                         RETURNING jid, name, first_name, push_name, updated_at",
                    )
                    .bind(session_id)
                    .bind(jid)
                    .bind(name)
                    .bind(first_name.as_deref()),
                    ContactChange::PushName(push_name) => sqlx::query_as::<$db, Contact>(
                        "INSERT INTO contacts (session_id, jid, push_name, updated_at) \
                         VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (session_id, jid) DO UPDATE SET push_name = excluded.push_name, \
                         updated_at = excluded.updated_at \
                         WHERE contacts.push_name IS DISTINCT FROM excluded.push_name \
                         RETURNING jid, name, first_name, push_name, updated_at",
                    )
                    .bind(session_id)
                    .bind(jid)
                    .bind(push_name),
                };
                Ok(q.bind(Utc::now()).fetch_optional(&self.pool).await?)
            }

            async fn get(&self, session_id: &str, jid: &str) -> StoreResult<Option<Contact>> {
                Ok(sqlx::query_as::<$db, Contact>(
                    "SELECT jid, name, first_name, push_name, updated_at FROM contacts \
                     WHERE session_id = $1 AND jid = $2",
                )
                .bind(session_id)
                .bind(jid)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn list(
                &self,
                session_id: &str,
                search: Option<&str>,
                after: Option<&str>,
                limit: u32,
            ) -> StoreResult<Vec<Contact>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {COLUMNS} FROM contacts WHERE session_id = "
                ));
                q.push_bind(session_id);
                if let Some(after) = after {
                    q.push(" AND jid > ").push_bind(after);
                }
                if let Some(search) = search {
                    let pattern = like_pattern(search);
                    for column in ["jid", "name", "push_name"] {
                        q.push(if column == "jid" { " AND (" } else { " OR " });
                        q.push(column)
                            .push(concat!(" ", $like, " "))
                            .push_bind(pattern.clone())
                            .push(" ESCAPE '\\'");
                    }
                    q.push(")");
                }
                q.push(" ORDER BY jid LIMIT ").push_bind(i64::from(limit));
                Ok(q.build_query_as::<Contact>().fetch_all(&self.pool).await?)
            }

            async fn saved(&self, session_id: &str) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar::<$db, String>(
                    "SELECT jid FROM contacts WHERE session_id = $1 AND name IS NOT NULL ORDER BY jid",
                )
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn get_many(&self, session_id: &str, jids: &[String]) -> StoreResult<Vec<Contact>> {
                let mut found = Vec::new();
                for chunk in jids.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                        "SELECT {COLUMNS} FROM contacts WHERE session_id = "
                    ));
                    q.push_bind(session_id).push(" AND jid");
                    super::push_in(&mut q, chunk);
                    found.extend(q.build_query_as::<Contact>().fetch_all(&self.pool).await?);
                }
                Ok(found)
            }
        }
    };
}

impl_contacts!(Postgres, "ILIKE");
impl_contacts!(Sqlite, "LIKE");

#[cfg(test)]
mod tests {
    #[test]
    fn search_wildcards_are_taken_literally() {
        assert_eq!(super::like_pattern("ad"), "%ad%");
        assert_eq!(super::like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
