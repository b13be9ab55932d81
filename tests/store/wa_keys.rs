//! The WhatsApp key store, differentially: every operation sequence is run on
//! our SQL store and on whatsapp-rust's own `InMemoryBackend`, and every read
//! must come back the same. A scripted pass covers each method's edge cases
//! (newer-wins tokens, merged secret deadlines, moved LIDs, cross-group
//! deletes); a seeded random pass mixes writes and reads over a small key
//! space so overwrites, deletes and re-inserts collide.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use wa_gateway::engine::whatsapp::keys::KeyStore;
use wa_gateway::store::*;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::InMemoryBackend;
use whatsapp_rust::wacore::store::traits::*;

async fn session(store: &Store, id: &str) {
    let new = NewSession { id: id.into(), engine: "whatsapp".into(), metadata: json!({}) };
    store.sessions.create(&new).await.unwrap();
}

/// Records every read as text so two backends' runs compare line by line.
struct Transcript(Vec<String>);

impl Transcript {
    fn push(&mut self, what: impl std::fmt::Debug) {
        self.0.push(format!("{what:?}"));
    }
    fn sorted<T: std::fmt::Debug>(&mut self, label: &str, mut items: Vec<T>) {
        let mut lines: Vec<String> = items.drain(..).map(|i| format!("{i:?}")).collect();
        lines.sort();
        self.0.push(format!("{label}: {lines:?}"));
    }
}

fn version(v: u64, entry: &str) -> HashState {
    let mut state = HashState { version: v, ..Default::default() };
    state.hash[0] = v as u8;
    state.index_value_map.insert(entry.into(), vec![v as u8; 3]);
    state
}

fn lid(lid: &str, phone: &str, at: i64) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: lid.into(),
        phone_number: phone.into(),
        created_at: at,
        updated_at: at,
        learning_source: "usync".into(),
    }
}

fn secret(chat: &str, sender: &str, id: &str, byte: u8, expires_at: i64, message_ts: i64) -> MsgSecretEntry {
    MsgSecretEntry {
        chat: chat.into(),
        sender: sender.into(),
        msg_id: id.into(),
        secret: [byte; 32],
        expires_at,
        message_ts,
    }
}

fn devices(user: &str, ids: &[u32], at: i64) -> DeviceListRecord {
    DeviceListRecord {
        user: user.into(),
        devices: ids.iter().map(|d| DeviceInfo::new(*d, Some(*d))).collect(),
        timestamp: at,
        phash: Some(format!("2:{at}")),
        raw_id: Some(7),
    }
}

/// Each method's edge cases, in an order where later reads see earlier writes.
async fn scripted(b: &dyn Backend) -> Vec<String> {
    let mut t = Transcript(Vec::new());
    let addr = "491701234567:3@s.whatsapp.net";

    // Signal: identities, sessions, per-user probe.
    b.put_identity(addr, [1; 32]).await.unwrap();
    b.put_identities_batch(&[
        (Arc::from("491700000001@s.whatsapp.net"), [2; 32]),
        (Arc::from(addr), [3; 32]),
    ])
    .await
    .unwrap();
    t.push(b.load_identity(addr).await.unwrap());
    t.push(b.load_identity("nobody@s.whatsapp.net").await.unwrap());
    b.put_session("491700000002@s.whatsapp.net", b"s1").await.unwrap();
    b.put_sessions_batch(&[
        (Arc::from("491700000002@s.whatsapp.net"), Bytes::from_static(b"s2")),
        (Arc::from("100000012345678:2@lid"), Bytes::from_static(b"s3")),
        (Arc::from("100000012345678:2@lid"), Bytes::from_static(b"s4")),
    ])
    .await
    .unwrap();
    t.push(b.get_session("491700000002@s.whatsapp.net").await.unwrap());
    t.push(b.get_session("100000012345678:2@lid").await.unwrap());
    for user in
        ["491701234567", "49170123456", "491700000002", "100000012345678", "4917", "%", "491701234567:3"]
    {
        t.push((user, b.has_signal_state_for_user(user).await.unwrap()));
    }
    b.delete_session("491700000002@s.whatsapp.net").await.unwrap();
    b.delete_identity("491700000001@s.whatsapp.net").await.unwrap();
    t.push(b.has_session("491700000002@s.whatsapp.net").await.unwrap());
    t.push(b.has_signal_state_for_user("491700000002").await.unwrap());
    t.push(b.has_signal_state_for_user("491700000001").await.unwrap());

    // Pre-keys: batches, max id, upload marks that never resurrect.
    t.push(b.get_max_prekey_id().await.unwrap());
    b.store_prekey(5, b"pk5", false).await.unwrap();
    b.store_prekeys_batch(&[(6, Bytes::from_static(b"pk6")), (70000, Bytes::from_static(b"pk70000"))], true)
        .await
        .unwrap();
    t.push(b.get_max_prekey_id().await.unwrap());
    b.remove_prekey(70000).await.unwrap();
    b.mark_prekeys_uploaded(&[5, 70000]).await.unwrap();
    t.push(b.load_prekey(70000).await.unwrap());
    t.push(b.load_prekeys_batch(&[7, 6, 5, 70000]).await.unwrap());
    t.push(b.get_max_prekey_id().await.unwrap());
    b.store_signed_prekey(1, b"spk1").await.unwrap();
    b.store_signed_prekey(2, b"spk2").await.unwrap();
    b.store_signed_prekey(1, b"spk1b").await.unwrap();
    t.sorted("signed", b.load_all_signed_prekeys().await.unwrap());
    b.remove_signed_prekey(2).await.unwrap();
    t.push(b.load_signed_prekey(2).await.unwrap());
    t.push(b.load_signed_prekey(1).await.unwrap());

    // Sender keys.
    b.put_sender_key("g1::a", b"k1").await.unwrap();
    b.put_sender_keys_batch(&[
        (Arc::from("g1::a"), Bytes::from_static(b"k2")),
        (Arc::from("g1::b"), Bytes::new()),
    ])
    .await
    .unwrap();
    t.push(b.get_sender_key("g1::a").await.unwrap());
    t.push(b.get_sender_key("g1::b").await.unwrap());
    b.delete_sender_key("g1::a").await.unwrap();
    t.push(b.get_sender_key("g1::a").await.unwrap());

    // App state: keys, latest key, versions, MACs per collection.
    t.push(b.get_latest_sync_key_id().await.unwrap());
    let key = |ts| AppStateSyncKey { key_data: vec![9; 32], fingerprint: vec![1, 2], timestamp: ts };
    b.set_sync_key(&[0, 1], key(10)).await.unwrap();
    b.set_sync_key(&[0, 2], key(20)).await.unwrap();
    b.set_sync_key(&[0, 1], key(30)).await.unwrap();
    t.push(b.get_sync_key(&[0, 1]).await.unwrap());
    t.push(b.get_sync_key(&[9]).await.unwrap());
    t.push(b.get_latest_sync_key_id().await.unwrap());
    t.push(b.get_version("regular").await.unwrap());
    b.set_version("regular", version(3, "a")).await.unwrap();
    b.set_version("regular", version(4, "b")).await.unwrap();
    t.push(b.get_version("regular").await.unwrap());
    let mac = |i: u8, v: u8| AppStateMutationMAC { index_mac: vec![i; 32], value_mac: vec![v; 32] };
    b.put_mutation_macs("regular", 1, &[mac(1, 1), mac(2, 2), mac(1, 3)]).await.unwrap();
    b.put_mutation_macs("critical", 1, &[mac(1, 9)]).await.unwrap();
    t.push(b.get_mutation_mac("regular", &[1; 32]).await.unwrap());
    t.sorted(
        "macs",
        b.get_mutation_macs("regular", &[[1; 32], [2; 32], [3; 32]]).await.unwrap().into_iter().collect(),
    );
    b.delete_mutation_macs("regular", &[vec![2; 32]]).await.unwrap();
    t.push(b.get_mutation_mac("regular", &[2; 32]).await.unwrap());
    b.clear_mutation_macs("regular").await.unwrap();
    t.push(b.get_mutation_mac("regular", &[1; 32]).await.unwrap());
    t.push(b.get_mutation_mac("critical", &[1; 32]).await.unwrap());

    // Sender-key device tracking across groups.
    b.set_sender_key_status("g1@g.us", &[("a:1@lid", true), ("b:2@lid", false)]).await.unwrap();
    b.set_sender_key_status("g2@g.us", &[("a:1@lid", false), ("c:0@lid", true)]).await.unwrap();
    b.set_sender_key_status("g1@g.us", &[("b:2@lid", true)]).await.unwrap();
    t.sorted("g1", b.get_sender_key_devices("g1@g.us").await.unwrap());
    b.delete_sender_key_device_rows(&["a:1@lid"]).await.unwrap();
    b.delete_sender_key_device_rows(&[]).await.unwrap();
    t.sorted("g1", b.get_sender_key_devices("g1@g.us").await.unwrap());
    t.sorted("g2", b.get_sender_key_devices("g2@g.us").await.unwrap());
    b.clear_sender_key_devices("g1@g.us").await.unwrap();
    t.sorted("g1", b.get_sender_key_devices("g1@g.us").await.unwrap());
    t.sorted("g2", b.get_sender_key_devices("g2@g.us").await.unwrap());
    b.clear_all_sender_key_devices().await.unwrap();
    t.sorted("g2", b.get_sender_key_devices("g2@g.us").await.unwrap());

    // LID ↔ phone: a LID that moves to a new number drops the old reverse entry.
    b.put_lid_mapping(&lid("100", "4911", 1)).await.unwrap();
    b.put_lid_mappings(&[lid("200", "4922", 2), lid("100", "4933", 3)]).await.unwrap();
    t.push(b.get_lid_mapping("100").await.unwrap());
    t.push(b.get_pn_mapping("4911").await.unwrap());
    t.push(b.get_pn_mapping("4933").await.unwrap());
    b.put_lid_mapping(&lid("300", "4922", 4)).await.unwrap();
    t.push(b.get_pn_mapping("4922").await.unwrap());
    t.sorted("lids", b.get_all_lid_mappings().await.unwrap());

    // Base keys, device lists, group metadata.
    b.save_base_key(addr, "m1", b"base").await.unwrap();
    t.push(b.has_same_base_key(addr, "m1", b"base").await.unwrap());
    t.push(b.has_same_base_key(addr, "m1", b"other").await.unwrap());
    t.push(b.has_same_base_key(addr, "m2", b"base").await.unwrap());
    b.delete_base_key(addr, "m1").await.unwrap();
    t.push(b.has_same_base_key(addr, "m1", b"base").await.unwrap());
    b.update_device_list(devices("4911", &[0, 1], 5)).await.unwrap();
    b.update_device_lists(vec![devices("4922", &[0], 6), devices("4911", &[0, 2, 3], 7)]).await.unwrap();
    t.push(b.get_devices("4911").await.unwrap());
    b.delete_devices("4922").await.unwrap();
    t.push(b.get_devices("4922").await.unwrap());
    b.put_group_metadata("g1@g.us", b"meta").await.unwrap();
    t.push(b.get_group_metadata("g1@g.us").await.unwrap());
    b.delete_group_metadata("g1@g.us").await.unwrap();
    t.push(b.get_group_metadata("g1@g.us").await.unwrap());

    // Trusted-contact tokens: placeholders, newer-wins, forward-only stamps, pruning.
    b.touch_tc_token_sender_timestamp("a@lid", 100).await.unwrap();
    t.push(b.get_tc_token("a@lid").await.unwrap());
    b.store_received_tc_token("a@lid", b"tok1", 50).await.unwrap();
    t.push(b.get_tc_token("a@lid").await.unwrap());
    b.store_received_tc_token("a@lid", b"old", 40).await.unwrap();
    b.touch_tc_token_sender_timestamp("a@lid", 90).await.unwrap();
    t.push(b.get_tc_token("a@lid").await.unwrap());
    b.store_received_tc_token("a@lid", b"tok2", 60).await.unwrap();
    b.touch_tc_token_sender_timestamp("a@lid", 110).await.unwrap();
    t.push(b.get_tc_token("a@lid").await.unwrap());
    b.put_tc_token(
        "b@lid",
        &TcTokenEntry { token: b"x".to_vec(), token_timestamp: 10, sender_timestamp: None },
    )
    .await
    .unwrap();
    b.put_tc_token(
        "c@lid",
        &TcTokenEntry { token: Vec::new(), token_timestamp: 500, sender_timestamp: Some(20) },
    )
    .await
    .unwrap();
    b.store_received_tc_token("d@lid", b"fresh", 300).await.unwrap();
    t.sorted("jids", b.get_all_tc_token_jids().await.unwrap());
    t.push(b.delete_expired_tc_tokens(55, 105).await.unwrap());
    t.sorted("jids", b.get_all_tc_token_jids().await.unwrap());
    b.delete_tc_token("a@lid").await.unwrap();
    t.push(b.get_tc_token("a@lid").await.unwrap());

    // Sent messages and the pending-inbound buffer (stamped with now).
    b.store_sent_message("c@s.whatsapp.net", "m1", b"p1").await.unwrap();
    b.store_sent_message("c@s.whatsapp.net", "m1", b"p1b").await.unwrap();
    b.store_sent_message("c@s.whatsapp.net", "m2", b"p2").await.unwrap();
    t.push(b.take_sent_message("c@s.whatsapp.net", "m1").await.unwrap());
    t.push(b.take_sent_message("c@s.whatsapp.net", "m1").await.unwrap());
    t.push(b.delete_expired_sent_messages(0).await.unwrap());
    t.push(b.delete_expired_sent_messages(i64::MAX).await.unwrap());
    t.push(b.take_sent_message("c@s.whatsapp.net", "m2").await.unwrap());
    b.store_pending_inbound("c", "s", "i1", b"in1").await.unwrap();
    b.store_pending_inbound_batch(&[
        PendingInboundRow { chat: "c", sender: "s", id: "i2", message: b"in2" },
        PendingInboundRow { chat: "c", sender: "t", id: "i1", message: b"in3" },
    ])
    .await
    .unwrap();
    t.push(b.get_pending_inbound("c", "s", "i1").await.unwrap());
    t.push(b.get_pending_inbound("c", "t", "i1").await.unwrap());
    b.delete_pending_inbound_batch(&[PendingInboundKey { chat: "c", sender: "s", id: "i1" }]).await.unwrap();
    b.delete_pending_inbound("c", "s", "i2").await.unwrap();
    t.push(b.get_pending_inbound("c", "s", "i1").await.unwrap());
    t.push(b.delete_expired_pending_inbound(0).await.unwrap());
    t.push(b.delete_expired_pending_inbound(i64::MAX).await.unwrap());
    t.push(b.get_pending_inbound("c", "t", "i1").await.unwrap());

    // Message secrets: deadlines merge (0 = never), parent times only rise.
    let n = b
        .put_msg_secrets(vec![
            secret("g@g.us", "a@lid", "m1", 1, 100, 10),
            secret("g@g.us", "a@lid", "m1", 2, 50, 0),
            secret("g@g.us", "b@lid", "m1", 3, 0, 5),
            secret("c@lid", "c@lid", "m2", 4, 200, 0),
        ])
        .await
        .unwrap();
    t.push(n);
    t.push(b.get_msg_secret_with_ts("g@g.us", "a@lid", "m1").await.unwrap());
    b.put_msg_secrets(vec![secret("g@g.us", "a@lid", "m1", 5, 0, 20)]).await.unwrap();
    b.put_msg_secret("c@lid", "c@lid", "m3", &[6; 32]).await.unwrap();
    t.push(b.get_msg_secret_with_ts("g@g.us", "a@lid", "m1").await.unwrap());
    t.push(b.get_msg_secret("g@g.us", "b@lid", "m1").await.unwrap());
    t.push(b.get_msg_secret("g@g.us", "x@lid", "m1").await.unwrap());
    t.push(b.delete_expired_msg_secrets(150).await.unwrap());
    t.push(b.delete_expired_msg_secrets(200).await.unwrap());
    t.push(b.get_msg_secret("c@lid", "c@lid", "m2").await.unwrap());
    t.push(b.get_msg_secret("c@lid", "c@lid", "m3").await.unwrap());

    // The device itself.
    t.push(b.exists().await.unwrap());
    t.push(b.load().await.unwrap().is_none());
    t.push(b.create().await.unwrap());
    t.push(b.exists().await.unwrap());
    let mut device = b.load().await.unwrap().unwrap();
    device.push_name = "Shop".into();
    device.registration_id = 4242;
    device.next_pre_key_id = 812;
    b.save(&device).await.unwrap();
    let loaded = b.load().await.unwrap().unwrap();
    t.push((loaded.push_name.clone(), loaded.registration_id, loaded.next_pre_key_id));
    t.push(serde_json::to_value(&loaded).unwrap() == serde_json::to_value(&device).unwrap());
    t.0
}

/// Random writes and reads over a few keys per map, so every kind of write
/// meets an existing row, a deleted one and a fresh one.
async fn random_ops(b: &dyn Backend, seed: u64, steps: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = Transcript(Vec::new());
    let addrs = ["1@s.whatsapp.net", "1:2@s.whatsapp.net", "2@lid", "12@s.whatsapp.net"];
    for step in 0..steps {
        let a = addrs[rng.random_range(0..addrs.len())];
        let n: u32 = rng.random_range(0..4);
        let byte = (step % 251) as u8;
        match rng.random_range(0..16) {
            0 => b.put_identity(a, [byte; 32]).await.unwrap(),
            1 => b.delete_identity(a).await.unwrap(),
            2 => b.put_session(a, &[byte]).await.unwrap(),
            3 => b.delete_session(a).await.unwrap(),
            4 => b.store_prekey(n, &[byte], rng.random()).await.unwrap(),
            5 => b.remove_prekey(n).await.unwrap(),
            6 => b.set_sender_key_status(&format!("g{n}"), &[(a, rng.random())]).await.unwrap(),
            7 => b.delete_sender_key_device_rows(&[a]).await.unwrap(),
            8 => b
                .put_lid_mapping(&lid(&format!("l{n}"), &format!("p{}", rng.random_range(0..3)), step as i64))
                .await
                .unwrap(),
            9 => b.touch_tc_token_sender_timestamp(a, rng.random_range(0..50)).await.unwrap(),
            10 => b.store_received_tc_token(a, &[byte], rng.random_range(0..50)).await.unwrap(),
            11 => t.push(
                b.delete_expired_tc_tokens(rng.random_range(0..50), rng.random_range(0..50)).await.unwrap(),
            ),
            12 => {
                let e = secret(
                    "c",
                    a,
                    &format!("m{n}"),
                    byte,
                    rng.random_range(0..4) * 10,
                    rng.random_range(0..4),
                );
                b.put_msg_secrets(vec![e]).await.unwrap();
            }
            13 => t.push(b.delete_expired_msg_secrets(rng.random_range(0..40)).await.unwrap()),
            14 => b
                .put_sessions_batch(&[
                    (Arc::from(a), Bytes::from(vec![byte])),
                    (Arc::from(addrs[0]), Bytes::from(vec![1])),
                ])
                .await
                .unwrap(),
            _ => b
                .store_prekeys_batch(&[(n, Bytes::from(vec![byte])), (n + 1, Bytes::from(vec![2]))], false)
                .await
                .unwrap(),
        }
        // Read everything the step could have touched.
        t.push((step, b.load_identity(a).await.unwrap(), b.get_session(a).await.unwrap()));
        t.push((b.load_prekeys_batch(&[0, 1, 2, 3, 4]).await.unwrap(), b.get_max_prekey_id().await.unwrap()));
        t.sorted("skd", b.get_sender_key_devices(&format!("g{n}")).await.unwrap());
        t.push((
            b.get_lid_mapping(&format!("l{n}")).await.unwrap(),
            b.get_pn_mapping(&format!("p{}", n % 3)).await.unwrap(),
        ));
        t.push(b.get_tc_token(a).await.unwrap());
        t.push(b.get_msg_secret_with_ts("c", a, &format!("m{n}")).await.unwrap());
        t.push(b.has_signal_state_for_user(a.split(['@', ':']).next().unwrap()).await.unwrap());
    }
    t.sorted("lids", b.get_all_lid_mappings().await.unwrap());
    t.sorted("tc", b.get_all_tc_token_jids().await.unwrap());
    t.0
}

fn assert_same(ours: &[String], reference: &[String]) {
    for (i, (o, r)) in ours.iter().zip(reference).enumerate() {
        assert_eq!(o, r, "read {i} differs from InMemoryBackend");
    }
    assert_eq!(ours.len(), reference.len());
}

pub async fn whatsapp_keys_match_the_reference_backend(store: Store) {
    session(&store, "wa1").await;
    let ours = KeyStore::backend(store.pool(), "wa1");
    let reference = InMemoryBackend::new();
    let expected = scripted(&reference).await;
    assert!(expected.len() > 80, "the script reads {} times", expected.len());
    assert_same(&scripted(&*ours).await, &expected);

    for seed in [1, 2, 3] {
        let id = format!("wa-rand-{seed}");
        session(&store, &id).await;
        let ours = KeyStore::backend(store.pool(), &id);
        let reference = InMemoryBackend::new();
        assert_same(&random_ops(&*ours, seed, 250).await, &random_ops(&reference, seed, 250).await);
    }
}

pub async fn whatsapp_keys_persist_per_session_and_erase(store: Store) {
    session(&store, "wa-a").await;
    session(&store, "wa-b").await;
    let a = KeyStore::backend(store.pool(), "wa-a");
    a.put_identity("x@s.whatsapp.net", [7; 32]).await.unwrap();
    a.create().await.unwrap();
    a.store_prekey(3, b"pk", true).await.unwrap();

    // A new instance (a restart) reads the same keys; another session sees none.
    let again = KeyStore::new(store.pool(), "wa-a");
    assert_eq!(again.load_identity("x@s.whatsapp.net").await.unwrap(), Some([7; 32]));
    assert!(again.exists().await.unwrap());
    let b = KeyStore::backend(store.pool(), "wa-b");
    assert_eq!(b.load_identity("x@s.whatsapp.net").await.unwrap(), None);
    assert!(!b.exists().await.unwrap());
    assert_eq!(b.get_max_prekey_id().await.unwrap(), 0);
    b.create().await.unwrap();

    assert_eq!(again.erase().await.unwrap(), 3);
    assert!(!again.exists().await.unwrap());
    assert_eq!(again.load_prekey(3).await.unwrap(), None);
    assert!(b.exists().await.unwrap(), "erasing one session left the other alone");

    // Deleting the session takes its keys with it.
    assert!(store.sessions.delete("wa-b").await.unwrap());
    session(&store, "wa-b").await;
    assert!(!b.exists().await.unwrap());
}

/// A poll keeps one secret however often its send is attempted; a vote finds
/// it by the poll's id, or else the crate's copy of the message's secret.
pub async fn whatsapp_poll_secrets_are_kept_per_poll(store: Store) {
    session(&store, "wa-p").await;
    session(&store, "wa-q").await;
    let keys = KeyStore::new(store.pool(), "wa-p");
    let first = keys.poll_secret_for_send("3EB0POLL").await.unwrap();
    // A retry after a crash: a new instance, the same secret.
    let retry = KeyStore::new(store.pool(), "wa-p").poll_secret_for_send("3EB0POLL").await.unwrap();
    assert_eq!(first, retry);
    assert_ne!(keys.poll_secret_for_send("3EB0OTHER").await.unwrap(), first, "each poll its own");
    let chat = "491709876543@s.whatsapp.net";
    assert_eq!(keys.poll_secret("3EB0POLL", chat, "x").await.unwrap(), Some(first.to_vec()));
    // Another session does not see it.
    let other = KeyStore::new(store.pool(), "wa-q");
    assert_eq!(other.poll_secret("3EB0POLL", chat, "x").await.unwrap(), None);
    // A received poll's secret as the crate keeps it: by chat, author and id.
    let backend = KeyStore::backend(store.pool(), "wa-q");
    backend.put_msg_secret(chat, "491709876543@s.whatsapp.net", "3EB0THEIRS", &[5; 32]).await.unwrap();
    assert_eq!(
        other.poll_secret("3EB0THEIRS", chat, "491709876543@s.whatsapp.net").await.unwrap(),
        Some(vec![5; 32])
    );
    assert_eq!(other.poll_secret("3EB0THEIRS", chat, "someone@s.whatsapp.net").await.unwrap(), None);
    // Logging out forgets them.
    keys.erase().await.unwrap();
    assert_eq!(keys.poll_secret("3EB0POLL", chat, "x").await.unwrap(), None);
}
