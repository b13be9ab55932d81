//! whatsapp-rust's storage traits on the gateway's own database.
//!
//! The crate's bundled SQLite storage opens its own connections and runs
//! three OS threads per session; a gateway with hundreds of sessions wants
//! them all on the one pool it already has, on SQLite or PostgreSQL. Every
//! map the crate keeps becomes a `kind` of row in the `wa_keys` table (see
//! `kv.rs` for the SQL), so one implementation serves both databases.
//!
//! The behaviour to match is the crate's `InMemoryBackend`; the store
//! contract suite replays the same operations against both and compares.
//! Structured values (device, app-state versions, mappings) are stored as
//! JSON, which the crate's own serde derives are written for.

mod kv;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::error::{Result, StoreError};
use whatsapp_rust::wacore::store::traits::*;

use self::kv::{Kv, Put, REPLACE, Row, SqlKv, Sweep, Upsert};
use crate::store::Pool;

/// The maps, as stored in `wa_keys.kind`. Never renumber: rows outlive releases.
mod kind {
    pub const IDENTITY: i16 = 1;
    pub const SESSION: i16 = 2;
    pub const PREKEY: i16 = 3;
    pub const SIGNED_PREKEY: i16 = 4;
    pub const SENDER_KEY: i16 = 5;
    pub const SYNC_KEY: i16 = 6;
    pub const LATEST_SYNC_KEY: i16 = 7;
    pub const VERSION: i16 = 8;
    pub const MUTATION_MAC: i16 = 9;
    pub const SENDER_KEY_DEVICE: i16 = 10;
    pub const LID: i16 = 11;
    pub const PN: i16 = 12;
    pub const BASE_KEY: i16 = 13;
    pub const DEVICE_LIST: i16 = 14;
    pub const GROUP_METADATA: i16 = 15;
    pub const TC_TOKEN: i16 = 16;
    pub const SENT_MESSAGE: i16 = 17;
    pub const PENDING_INBOUND: i16 = 18;
    pub const MSG_SECRET: i16 = 19;
    pub const DEVICE: i16 = 20;
    /// The gateway's own: each poll's secret by poll id (see `polls.rs`).
    pub const POLL_SECRET: i16 = 21;
}

/// Joins two parts of a composite key; the unit separator appears in no JID
/// or message id.
const SEP: char = '\u{1f}';

/// One session's key store. Cheap: a pool handle and the session id.
pub struct KeyStore {
    kv: Box<dyn Kv>,
}

impl KeyStore {
    pub fn new(pool: &Pool, session_id: &str) -> Self {
        let kv: Box<dyn Kv> = match pool {
            Pool::Sqlite(p) => Box::new(SqlKv::new(p.clone(), session_id)),
            Pool::Postgres(p) => Box::new(SqlKv::new(p.clone(), session_id)),
        };
        Self { kv }
    }

    /// The crate's `Backend` for this session.
    pub fn backend(pool: &Pool, session_id: &str) -> Arc<dyn Backend> {
        Arc::new(Self::new(pool, session_id))
    }

    /// The secret of a poll about to be sent as `poll_id`: the one an
    /// earlier attempt at the same message kept, else a new one, kept before
    /// the poll leaves (a poll re-sent after a crash is the same message to
    /// WhatsApp, so it must carry the same secret).
    pub async fn poll_secret_for_send(&self, poll_id: &str) -> Result<[u8; 32]> {
        if let Some(kept) = self.value(kind::POLL_SECRET, "", poll_id).await? {
            return key32(&kept);
        }
        let secret: [u8; 32] = rand::random();
        self.put_poll_secret(poll_id, &secret).await?;
        Ok(secret)
    }

    /// Keeps the secret votes on poll `poll_id` are encrypted with.
    pub async fn put_poll_secret(&self, poll_id: &str, secret: &[u8]) -> Result<()> {
        self.put_one(kind::POLL_SECRET, Put::new("", poll_id, secret.to_vec(), 0, None)).await
    }

    /// The secret of poll `poll_id`: kept by `put_poll_secret`, else the one
    /// the crate kept for the message (`chat`, `creator`: non-device JIDs).
    pub async fn poll_secret(&self, poll_id: &str, chat: &str, creator: &str) -> Result<Option<Vec<u8>>> {
        if let Some(secret) = self.value(kind::POLL_SECRET, "", poll_id).await? {
            return Ok(Some(secret));
        }
        self.value(kind::MSG_SECRET, chat, &pair(creator, poll_id)).await
    }

    /// Erases every key of the session (logout, unlink).
    pub async fn erase(&self) -> Result<u64> {
        self.kv.erase().await.map_err(db)
    }
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Serialization(Box::new(e)))
}

fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Serialization(Box::new(e)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn pair(a: &str, b: &str) -> String {
    format!("{a}{SEP}{b}")
}

fn key32(v: &[u8]) -> Result<[u8; 32]> {
    v.try_into().map_err(|_| StoreError::Validation(format!("expected 32 bytes, found {}", v.len())))
}

impl KeyStore {
    async fn get(&self, kind: i16, scope: &str, k: &str) -> Result<Option<Row>> {
        self.kv.get(kind, scope, k).await.map_err(db)
    }

    async fn value(&self, kind: i16, scope: &str, k: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get(kind, scope, k).await?.map(|r| r.v))
    }

    async fn put_one(&self, kind: i16, put: Put) -> Result<()> {
        self.kv.put(kind, vec![put], &REPLACE).await.map_err(db)
    }

    async fn put(&self, kind: i16, rows: Vec<Put>, upsert: &Upsert) -> Result<()> {
        self.kv.put(kind, rows, upsert).await.map_err(db)
    }

    async fn delete(&self, kind: i16, scope: &str, k: &str) -> Result<()> {
        self.kv.delete(kind, Some(scope), &[k.to_owned()]).await.map(drop).map_err(db)
    }
}

fn count(n: std::result::Result<u64, sqlx::Error>) -> Result<u32> {
    n.map(|n| u32::try_from(n).unwrap_or(u32::MAX)).map_err(db)
}

#[async_trait]
impl SignalStore for KeyStore {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        self.put_one(kind::IDENTITY, Put::new("", address, key.to_vec(), 0, None)).await
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        let rows = identities.iter().map(|(a, key)| Put::new("", &**a, key.to_vec(), 0, None)).collect();
        self.put(kind::IDENTITY, rows, &REPLACE).await
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        self.value(kind::IDENTITY, "", address).await?.map(|v| key32(&v)).transpose()
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        self.delete(kind::IDENTITY, "", address).await
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        Ok(self.value(kind::SESSION, "", address).await?.map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        self.put_one(kind::SESSION, Put::new("", address, session.to_vec(), 0, None)).await
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows = sessions.iter().map(|(a, s)| Put::new("", &**a, s.to_vec(), 0, None)).collect();
        self.put(kind::SESSION, rows, &REPLACE).await
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        self.delete(kind::SESSION, "", address).await
    }

    async fn has_session(&self, address: &str) -> Result<bool> {
        Ok(self.get(kind::SESSION, "", address).await?.is_some())
    }

    async fn has_signal_state_for_user(&self, user: &str) -> Result<bool> {
        self.kv.any_for_user(&[kind::SESSION, kind::IDENTITY], user).await.map_err(db)
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> Result<()> {
        self.put_one(
            kind::PREKEY,
            Put::new("", id.to_string(), record.to_vec(), uploaded.into(), Some(id.into())),
        )
        .await
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        let rows = keys
            .iter()
            .map(|(id, r)| Put::new("", id.to_string(), r.to_vec(), uploaded.into(), Some((*id).into())))
            .collect();
        self.put(kind::PREKEY, rows, &REPLACE).await
    }

    async fn load_prekey(&self, id: u32) -> Result<Option<Bytes>> {
        Ok(self.value(kind::PREKEY, "", &id.to_string()).await?.map(Bytes::from))
    }

    async fn load_prekeys_batch(&self, ids: &[u32]) -> Result<Vec<(u32, Bytes)>> {
        let keys: Vec<String> = ids.iter().map(u32::to_string).collect();
        let mut found = self.kv.get_many(kind::PREKEY, "", &keys).await.map_err(db)?;
        Ok(ids
            .iter()
            .zip(&keys)
            .filter_map(|(id, k)| found.remove(k).map(|r| (*id, Bytes::from(r.v))))
            .collect())
    }

    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        let keys: Vec<String> = ids.iter().map(u32::to_string).collect();
        self.kv.set_n1(kind::PREKEY, "", &keys, 1).await.map_err(db)
    }

    async fn remove_prekey(&self, id: u32) -> Result<()> {
        self.delete(kind::PREKEY, "", &id.to_string()).await
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        let max = self.kv.max_n2(kind::PREKEY).await.map_err(db)?;
        Ok(max.and_then(|m| u32::try_from(m).ok()).unwrap_or(0))
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> Result<()> {
        self.put_one(kind::SIGNED_PREKEY, Put::new("", id.to_string(), record.to_vec(), 0, Some(id.into())))
            .await
    }

    async fn load_signed_prekey(&self, id: u32) -> Result<Option<Vec<u8>>> {
        self.value(kind::SIGNED_PREKEY, "", &id.to_string()).await
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let rows = self.kv.list(kind::SIGNED_PREKEY, Some("")).await.map_err(db)?;
        Ok(rows.into_iter().filter_map(|(_, k, r)| k.parse().ok().map(|id| (id, r.v))).collect())
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<()> {
        self.delete(kind::SIGNED_PREKEY, "", &id.to_string()).await
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        self.put_one(kind::SENDER_KEY, Put::new("", address, record.to_vec(), 0, None)).await
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        let rows = sender_keys.iter().map(|(a, r)| Put::new("", &**a, r.to_vec(), 0, None)).collect();
        self.put(kind::SENDER_KEY, rows, &REPLACE).await
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        self.value(kind::SENDER_KEY, "", address).await
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        self.delete(kind::SENDER_KEY, "", address).await
    }
}

#[async_trait]
impl AppSyncStore for KeyStore {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        self.value(kind::SYNC_KEY, "", &hex(key_id)).await?.map(|v| from_json(&v)).transpose()
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        self.put_one(kind::SYNC_KEY, Put::new("", hex(key_id), to_json(&key)?, 0, None)).await?;
        self.put_one(kind::LATEST_SYNC_KEY, Put::new("", "", key_id.to_vec(), 0, None)).await
    }

    async fn get_version(&self, name: &str) -> Result<HashState> {
        match self.value(kind::VERSION, "", name).await? {
            Some(v) => from_json(&v),
            None => Ok(HashState::default()),
        }
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        self.put_one(kind::VERSION, Put::new("", name, to_json(&state)?, state.version as i64, None)).await
    }

    async fn put_mutation_macs(
        &self,
        name: &str,
        version: u64,
        mutations: &[AppStateMutationMAC],
    ) -> Result<()> {
        let rows = mutations
            .iter()
            .map(|m| Put::new(name, hex(&m.index_mac), m.value_mac.clone(), version as i64, None))
            .collect();
        self.put(kind::MUTATION_MAC, rows, &REPLACE).await
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        self.value(kind::MUTATION_MAC, name, &hex(index_mac)).await
    }

    async fn get_mutation_macs(
        &self,
        name: &str,
        index_macs: &[[u8; 32]],
    ) -> Result<HashMap<[u8; 32], Vec<u8>>> {
        let keys: Vec<String> = index_macs.iter().map(|m| hex(m)).collect();
        let mut found = self.kv.get_many(kind::MUTATION_MAC, name, &keys).await.map_err(db)?;
        Ok(index_macs.iter().zip(&keys).filter_map(|(m, k)| found.remove(k).map(|r| (*m, r.v))).collect())
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        let keys: Vec<String> = index_macs.iter().map(|m| hex(m)).collect();
        self.kv.delete(kind::MUTATION_MAC, Some(name), &keys).await.map(drop).map_err(db)
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        self.kv.clear(kind::MUTATION_MAC, Some(name)).await.map(drop).map_err(db)
    }

    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        self.value(kind::LATEST_SYNC_KEY, "", "").await
    }
}

/// Message secrets: the later deadline wins (0 = never beats all), the later
/// known parent time wins; the secret itself is replaced.
const MERGE_SECRET: Upsert = Upsert {
    on_conflict: "DO UPDATE SET v = excluded.v, \
        n1 = CASE WHEN wa_keys.n1 = 0 OR excluded.n1 = 0 THEN 0 \
                  WHEN excluded.n1 > wa_keys.n1 THEN excluded.n1 ELSE wa_keys.n1 END, \
        n2 = CASE WHEN excluded.n2 > wa_keys.n2 THEN excluded.n2 ELSE wa_keys.n2 END",
    fold: |old, new| {
        let n1 = merge_msg_secret_expiry(old.n1, new.n1);
        let n2 = merge_msg_secret_message_ts(old.n2.unwrap_or(0), new.n2.unwrap_or(0));
        *old = Row { v: new.v, n1, n2: Some(n2) };
    },
};

/// Trusted-contact tokens, sender side: only `n2` (sender stamp) moves, and
/// only forward; a missing row becomes a byte-less placeholder.
const TOUCH_SENDER: Upsert = Upsert {
    on_conflict: "DO UPDATE SET n2 = CASE WHEN wa_keys.n2 IS NULL OR excluded.n2 > wa_keys.n2 \
        THEN excluded.n2 ELSE wa_keys.n2 END",
    fold: |old, new| old.n2 = old.n2.max(new.n2),
};

/// Trusted-contact tokens, received side: newer wins over a real token, any
/// token wins over a placeholder; the sender stamp is kept.
const RECEIVED_TOKEN: Upsert = Upsert {
    on_conflict: "DO UPDATE SET v = excluded.v, n1 = excluded.n1 \
        WHERE length(wa_keys.v) = 0 OR excluded.n1 >= wa_keys.n1",
    fold: |old, new| {
        if old.v.is_empty() || new.n1 >= old.n1 {
            old.v = new.v;
            old.n1 = new.n1;
        }
    },
};

fn tc_entry(row: Row) -> TcTokenEntry {
    TcTokenEntry { token: row.v, token_timestamp: row.n1, sender_timestamp: row.n2 }
}

#[async_trait]
impl ProtocolStore for KeyStore {
    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        let rows = self.kv.list(kind::SENDER_KEY_DEVICE, Some(group_jid)).await.map_err(db)?;
        Ok(rows.into_iter().map(|(_, k, r)| (k, r.n1 != 0)).collect())
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        let rows =
            entries.iter().map(|(d, has)| Put::new(group_jid, *d, Vec::new(), (*has).into(), None)).collect();
        self.put(kind::SENDER_KEY_DEVICE, rows, &REPLACE).await
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        self.kv.clear(kind::SENDER_KEY_DEVICE, Some(group_jid)).await.map(drop).map_err(db)
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        let keys: Vec<String> = device_jids.iter().map(|d| (*d).to_owned()).collect();
        self.kv.delete(kind::SENDER_KEY_DEVICE, None, &keys).await.map(drop).map_err(db)
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        self.kv.clear(kind::SENDER_KEY_DEVICE, None).await.map(drop).map_err(db)
    }

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        self.value(kind::LID, "", lid).await?.map(|v| from_json(&v)).transpose()
    }

    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        let Some(lid) = self.value(kind::PN, "", phone).await? else { return Ok(None) };
        self.get_lid_mapping(&String::from_utf8_lossy(&lid)).await
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        // A LID that moved to another number leaves no reverse entry behind.
        if let Some(old) = self.get_lid_mapping(&entry.lid).await?
            && old.phone_number != entry.phone_number
        {
            self.delete(kind::PN, "", &old.phone_number).await?;
        }
        self.put_one(kind::PN, Put::new("", &entry.phone_number, entry.lid.clone().into_bytes(), 0, None))
            .await?;
        self.put_one(kind::LID, Put::new("", &entry.lid, to_json(entry)?, entry.updated_at, None)).await
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        let rows = self.kv.list(kind::LID, Some("")).await.map_err(db)?;
        rows.into_iter().map(|(_, _, r)| from_json(&r.v)).collect()
    }

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        self.put_one(kind::BASE_KEY, Put::new(address, message_id, base_key.to_vec(), 0, None)).await
    }

    async fn has_same_base_key(
        &self,
        address: &str,
        message_id: &str,
        current_base_key: &[u8],
    ) -> Result<bool> {
        Ok(self.value(kind::BASE_KEY, address, message_id).await?.is_some_and(|v| v == current_base_key))
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        self.delete(kind::BASE_KEY, address, message_id).await
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        self.put_one(kind::DEVICE_LIST, Put::new("", &record.user, to_json(&record)?, record.timestamp, None))
            .await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        let rows = records
            .iter()
            .map(|r| Ok(Put::new("", &r.user, to_json(r)?, r.timestamp, None)))
            .collect::<Result<Vec<_>>>()?;
        self.put(kind::DEVICE_LIST, rows, &REPLACE).await
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        self.value(kind::DEVICE_LIST, "", user).await?.map(|v| from_json(&v)).transpose()
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        self.delete(kind::DEVICE_LIST, "", user).await
    }

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        self.value(kind::GROUP_METADATA, "", group_jid).await
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> Result<()> {
        self.put_one(kind::GROUP_METADATA, Put::new("", group_jid, blob.to_vec(), 0, None)).await
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        self.delete(kind::GROUP_METADATA, "", group_jid).await
    }

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        Ok(self.get(kind::TC_TOKEN, "", jid).await?.map(tc_entry))
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        let put = Put::new("", jid, entry.token.clone(), entry.token_timestamp, entry.sender_timestamp);
        self.put_one(kind::TC_TOKEN, put).await
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        self.delete(kind::TC_TOKEN, "", jid).await
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        let rows = self.kv.list(kind::TC_TOKEN, Some("")).await.map_err(db)?;
        Ok(rows.into_iter().map(|(_, k, _)| k).collect())
    }

    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        let sweep = Sweep::StaleToken { token: token_cutoff, sender: sender_cutoff };
        count(self.kv.sweep(kind::TC_TOKEN, sweep).await)
    }

    async fn touch_tc_token_sender_timestamp(&self, jid: &str, sender_timestamp: i64) -> Result<()> {
        let put = Put::new("", jid, Vec::new(), sender_timestamp, Some(sender_timestamp));
        self.put(kind::TC_TOKEN, vec![put], &TOUCH_SENDER).await
    }

    async fn store_received_tc_token(&self, jid: &str, token: &[u8], token_timestamp: i64) -> Result<()> {
        let put = Put::new("", jid, token.to_vec(), token_timestamp, None);
        self.put(kind::TC_TOKEN, vec![put], &RECEIVED_TOKEN).await
    }

    async fn store_sent_message(&self, chat_jid: &str, message_id: &str, payload: &[u8]) -> Result<()> {
        let now = whatsapp_rust::wacore::time::now_secs();
        self.put_one(kind::SENT_MESSAGE, Put::new(chat_jid, message_id, payload.to_vec(), now, None)).await
    }

    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        self.kv.take(kind::SENT_MESSAGE, chat_jid, message_id).await.map_err(db)
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        count(self.kv.sweep(kind::SENT_MESSAGE, Sweep::N1Before(cutoff_timestamp)).await)
    }

    async fn store_pending_inbound(&self, chat: &str, sender: &str, id: &str, message: &[u8]) -> Result<()> {
        let now = whatsapp_rust::wacore::time::now_secs();
        self.put_one(kind::PENDING_INBOUND, Put::new(chat, pair(sender, id), message.to_vec(), now, None))
            .await
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        let now = whatsapp_rust::wacore::time::now_secs();
        let puts = rows
            .iter()
            .map(|r| Put::new(r.chat, pair(r.sender, r.id), r.message.to_vec(), now, None))
            .collect();
        self.put(kind::PENDING_INBOUND, puts, &REPLACE).await
    }

    async fn get_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<Option<Vec<u8>>> {
        self.value(kind::PENDING_INBOUND, chat, &pair(sender, id)).await
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        self.delete(kind::PENDING_INBOUND, chat, &pair(sender, id)).await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        count(self.kv.sweep(kind::PENDING_INBOUND, Sweep::N1Before(cutoff_timestamp)).await)
    }
}

#[async_trait]
impl MsgSecretStore for KeyStore {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        let stored = entries.len();
        let rows = entries
            .into_iter()
            .map(|e| {
                Put::new(
                    &*e.chat,
                    pair(&e.sender, &e.msg_id),
                    e.secret.to_vec(),
                    e.expires_at,
                    Some(e.message_ts),
                )
            })
            .collect();
        self.put(kind::MSG_SECRET, rows, &MERGE_SECRET).await?;
        Ok(stored)
    }

    async fn get_msg_secret(&self, chat: &str, sender: &str, msg_id: &str) -> Result<Option<Vec<u8>>> {
        self.value(kind::MSG_SECRET, chat, &pair(sender, msg_id)).await
    }

    async fn get_msg_secret_with_ts(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> Result<Option<(Vec<u8>, i64)>> {
        let row = self.get(kind::MSG_SECRET, chat, &pair(sender, msg_id)).await?;
        Ok(row.map(|r| (r.v, r.n2.unwrap_or(0))))
    }

    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        count(self.kv.sweep(kind::MSG_SECRET, Sweep::DeadlinePassed(cutoff_timestamp)).await)
    }
}

#[async_trait]
impl DeviceStore for KeyStore {
    async fn save(&self, device: &Device) -> Result<()> {
        self.put_one(kind::DEVICE, Put::new("", "", to_json(device)?, 0, None)).await
    }

    async fn load(&self) -> Result<Option<Device>> {
        self.value(kind::DEVICE, "", "").await?.map(|v| from_json(&v)).transpose()
    }

    async fn exists(&self) -> Result<bool> {
        Ok(self.get(kind::DEVICE, "", "").await?.is_some())
    }

    /// One device per session: the id is always 1, and a fresh device is
    /// materialised so `exists` holds afterwards (as in the crate's stores).
    async fn create(&self) -> Result<i32> {
        if !self.exists().await? {
            self.save(&Device::new()).await?;
        }
        Ok(1)
    }

    async fn resource_report(&self) -> whatsapp_rust::wacore::stats::StorageResourceReport {
        whatsapp_rust::wacore::stats::StorageResourceReport { memory_bytes: Some(0), ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_keys_become_lowercase_hex() {
        assert_eq!(hex(&[0u8, 1, 0xab, 0xff]), "0001abff");
    }

    #[test]
    fn secret_merges_keep_the_longer_deadline_and_known_time() {
        let mut row = Row { v: vec![1], n1: 100, n2: Some(50) };
        (MERGE_SECRET.fold)(&mut row, Row { v: vec![2], n1: 90, n2: Some(0) });
        assert_eq!(row, Row { v: vec![2], n1: 100, n2: Some(50) });
        (MERGE_SECRET.fold)(&mut row, Row { v: vec![3], n1: 0, n2: Some(70) });
        assert_eq!(row, Row { v: vec![3], n1: 0, n2: Some(70) });
    }
}
