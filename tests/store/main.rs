//! The repository contract: every method, run against SQLite and PostgreSQL.
//!
//! Each case is written once (`cases.rs`) and instantiated per backend by the
//! `contract!` macro, so `cargo test` lists e.g.
//! `postgres::sessions_crud_and_conflicts` and `sqlite::sessions_crud_and_conflicts`.

#[path = "../support/mod.rs"]
mod support;

mod cases;
mod migrations;
mod wa_handshake;
mod wa_keys;

use support::{Backend, TestDb};
use wa_gateway::store::{self, Store};

/// A migrated store on a fresh database; `None` when the suite is off.
pub async fn store(backend: Backend) -> Option<(Store, TestDb)> {
    let db = TestDb::new(backend).await?;
    let config = support::app_config(&db, "");
    let store = store::connect(&config).await.expect("connect");
    store::migrate::up(store.pool()).await.expect("migrate");
    Some((store, db))
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let (store, _db) = crate::store(crate::support::Backend::Sqlite).await.unwrap();
                    crate::cases::$case(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some((store, _db)) = crate::store(crate::support::Backend::Postgres).await else { return };
                    crate::cases::$case(store).await;
                }
            )*
        }
    };
}

contract!(
    sessions_crud_and_conflicts,
    sessions_list_paginates_in_id_order,
    sessions_count_by_status,
    session_delete_cascades,
    templates_crud,
    message_logs_insert_get_update,
    message_logs_list_filters_and_pages,
    message_logs_retention,
    webhooks_crud_scoped_to_session,
    deliveries_attempts_and_listing,
    session_events_append_and_list,
    updated_at_kept_by_trigger,
    ping_and_pool_usage,
    message_status_only_moves_forward,
    idempotency_keys_reserve_once_until_expiry,
    lifecycle_transitions_desired_state_and_credentials,
    media_handles_follow_their_message,
    polls_keep_options_and_each_voters_latest_vote,
    chat_settings_change_only_what_is_given,
    contacts_change_only_when_different,
    labels_keep_their_chats,
    chats_list_newest_first_with_unread_counts,
    whatsapp_keys_match_the_reference_backend,
    whatsapp_keys_persist_per_session_and_erase,
    whatsapp_poll_secrets_are_kept_per_poll,
    whatsapp_handshake_runs_on_our_key_store,
);
