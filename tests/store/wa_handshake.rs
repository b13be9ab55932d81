//! whatsapp-rust's Noise handshake on our key store, against an in-process
//! responder (the server side built from the crate's own primitives, as its
//! handshake tests do). XX against a chain WhatsApp's root did not sign is
//! refused (the certificate-chain check is on in our build). With the
//! server's key pinned, a "restart" (a new persistence manager on a new key
//! store over the same database) connects with IK, which only works if the
//! device's noise key and the pinned chain came back from our tables intact:
//! the responder decrypts the client's static key and it must be the one
//! stored.

use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::RngCore;
use serde_json::json;
use wa_gateway::engine::whatsapp::keys::KeyStore;
use wa_gateway::store::*;
use whatsapp_rust::async_channel;
use whatsapp_rust::buffa::Message as _;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::handshake::do_handshake;
use whatsapp_rust::store::persistence_manager::PersistenceManager;
use whatsapp_rust::transport::{Transport, TransportEvent};
use whatsapp_rust::wacore::handshake::NoiseHandshake;
use whatsapp_rust::wacore::libsignal::protocol::{KeyPair, PrivateKey};
use whatsapp_rust::wacore::store::{CachedNoiseCert, CachedServerCertChain, DeviceCommand};
use whatsapp_rust::wacore_binary::consts::{NOISE_PATTERN_IK, NOISE_PATTERN_XX, WA_CONN_HEADER};
use whatsapp_rust::waproto::whatsapp as wa;

fn keypair() -> KeyPair {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    KeyPair::try_from(PrivateKey::deserialize(&bytes).unwrap()).unwrap()
}

fn public(kp: &KeyPair) -> [u8; 32] {
    kp.public_key.public_key_bytes().try_into().unwrap()
}

/// Captures what the client writes; the test feeds the server's answers.
struct Wire {
    sent: Mutex<Vec<Bytes>>,
}

#[async_trait]
impl Transport for Wire {
    async fn send(&self, data: Bytes) -> anyhow::Result<()> {
        self.sent.lock().unwrap().push(data);
        Ok(())
    }
    async fn disconnect(&self) {}
}

async fn nth_sent(wire: &Wire, n: usize) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(b) = wire.sent.lock().unwrap().get(n) {
            return b.to_vec();
        }
        assert!(tokio::time::Instant::now() < deadline, "the client sent no frame {n}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The payload of the first frame, after the optional connection header.
fn frame(raw: &[u8]) -> Vec<u8> {
    let body = raw.strip_prefix(&WA_CONN_HEADER[..]).unwrap_or(raw);
    let len = (usize::from(body[0]) << 16) | (usize::from(body[1]) << 8) | usize::from(body[2]);
    body[3..3 + len].to_vec()
}

async fn answer(events: &async_channel::Sender<TransportEvent>, hello: wa::handshake_message::ServerHello) {
    let msg = wa::HandshakeMessage {
        server_hello: whatsapp_rust::buffa::MessageField::some(hello),
        ..Default::default()
    };
    let framed = whatsapp_rust::wacore::framing::encode_frame(&msg.encode_to_vec(), None).unwrap();
    events.send(TransportEvent::DataReceived(framed.into())).await.unwrap();
}

struct Server {
    identity: KeyPair,
    chain: Vec<u8>,
}

impl Server {
    /// XX: learn the client's ephemeral key, answer with ours, our static
    /// key and the certificate chain.
    async fn serve_xx(&self, wire: &Wire, events: &async_channel::Sender<TransportEvent>) {
        let hello = wa::HandshakeMessage::decode_from_slice(&frame(&nth_sent(wire, 0).await)).unwrap();
        let client_eph: [u8; 32] =
            hello.client_hello.into_option().unwrap().ephemeral.unwrap().try_into().unwrap();
        let mut noise = NoiseHandshake::new(NOISE_PATTERN_XX, &WA_CONN_HEADER).unwrap();
        noise.authenticate(&client_eph);
        let eph = keypair();
        noise.authenticate(&public(&eph));
        noise.mix_shared_secret(eph.private_key.serialize(), &client_eph).unwrap();
        let static_enc = noise.encrypt(&public(&self.identity)).unwrap();
        noise.mix_shared_secret(self.identity.private_key.serialize(), &client_eph).unwrap();
        let payload = noise.encrypt(&self.chain).unwrap();
        let hello = wa::handshake_message::ServerHello {
            ephemeral: Some(public(&eph).to_vec()),
            r#static: Some(static_enc),
            payload: Some(payload),
            ..Default::default()
        };
        answer(events, hello).await;
        nth_sent(wire, 1).await; // the client's finish
    }

    /// IK: the client already knows our static key (from the cached chain)
    /// and sends its own static key at once; returns that key.
    async fn serve_ik(&self, wire: &Wire, events: &async_channel::Sender<TransportEvent>) -> [u8; 32] {
        let hello = wa::HandshakeMessage::decode_from_slice(&frame(&nth_sent(wire, 0).await)).unwrap();
        let ch = hello.client_hello.into_option().expect("a client hello");
        let client_eph: [u8; 32] = ch.ephemeral.unwrap().try_into().unwrap();
        let mut noise = NoiseHandshake::new(NOISE_PATTERN_IK, &WA_CONN_HEADER).unwrap();
        noise.authenticate(&public(&self.identity));
        noise.authenticate(&client_eph);
        noise.mix_shared_secret(self.identity.private_key.serialize(), &client_eph).unwrap();
        let client_static: [u8; 32] = noise
            .decrypt(&ch.r#static.expect("IK carries the client's static key"))
            .unwrap()
            .try_into()
            .unwrap();
        noise.mix_shared_secret(self.identity.private_key.serialize(), &client_static).unwrap();
        noise.decrypt(&ch.payload.expect("IK carries a payload")).unwrap();
        let eph = keypair();
        noise.authenticate(&public(&eph));
        noise.mix_shared_secret(eph.private_key.serialize(), &client_eph).unwrap();
        noise.mix_shared_secret(eph.private_key.serialize(), &client_static).unwrap();
        let payload = noise.encrypt(&self.chain).unwrap();
        let hello = wa::handshake_message::ServerHello {
            ephemeral: Some(public(&eph).to_vec()),
            r#static: None,
            payload: Some(payload),
            ..Default::default()
        };
        answer(events, hello).await;
        client_static
    }
}

fn wire() -> (Arc<Wire>, async_channel::Sender<TransportEvent>, async_channel::Receiver<TransportEvent>) {
    let (tx, rx) = async_channel::unbounded();
    (Arc::new(Wire { sent: Mutex::new(Vec::new()) }), tx, rx)
}

pub async fn whatsapp_handshake_runs_on_our_key_store(store: Store) {
    store
        .sessions
        .create(&NewSession { id: "hs".into(), engine: "whatsapp".into(), metadata: json!({}) })
        .await
        .unwrap();
    let identity = keypair();
    let server = Arc::new(Server {
        chain: wacore_noise::test_util::build_cert_chain_bytes(&public(&identity)),
        identity,
    });
    let runtime: Arc<dyn whatsapp_rust::wacore::runtime::Runtime> = Arc::new(whatsapp_rust::TokioRuntime);
    let failures = AtomicU32::new(0);

    // First process: a paired device.
    let pm = PersistenceManager::new(KeyStore::backend(store.pool(), "hs")).await.unwrap();
    pm.process_command(DeviceCommand::SetId(Some("491701230000@s.whatsapp.net".parse().unwrap()))).await;
    let noise_key = public(&pm.get_device_snapshot().noise_key);

    // XX against a server whose chain WhatsApp's root did not sign: our build
    // keeps the crate's certificate-chain check, so the handshake is refused.
    let (w, tx, mut rx) = wire();
    let serving = tokio::spawn({
        let (server, w) = (server.clone(), w.clone());
        async move { server.serve_xx(&w, &tx).await }
    });
    let refused = do_handshake(runtime.clone(), &pm, &failures, w, &mut rx, None).await;
    serving.abort();
    let Err(err) = refused else { panic!("an unsigned certificate chain must be refused") };
    let err = format!("{err:?}");
    assert!(err.contains("CertVerification"), "{err}");
    assert!(pm.get_device_snapshot().server_cert_chain.is_none(), "a refused chain is not cached");

    // Pin the server's key as a verified XX handshake would, and restart.
    let cert = |key, not_before, not_after| CachedNoiseCert { key, not_before, not_after };
    pm.process_command(DeviceCommand::SetServerCertChain(CachedServerCertChain {
        intermediate: cert([0xCC; 32], 1_700_000_000, 1_900_000_000),
        leaf: cert(public(&server.identity), 1_700_000_500, 1_899_999_500),
    }))
    .await;
    pm.flush().await.unwrap();
    drop(pm);

    // Second process: everything comes back from our tables, and IK (which
    // sends the client's static key at once, encrypted to the pinned server
    // key) succeeds with the stored noise key.
    let pm = PersistenceManager::new(KeyStore::backend(store.pool(), "hs")).await.unwrap();
    let device = pm.get_device_snapshot();
    assert_eq!(public(&device.noise_key), noise_key, "the noise key survived the restart");
    assert_eq!(device.server_cert_chain.as_ref().unwrap().leaf.key, public(&server.identity));
    let (w, tx, mut rx) = wire();
    let serving = tokio::spawn({
        let (server, w) = (server.clone(), w.clone());
        async move { server.serve_ik(&w, &tx).await }
    });
    do_handshake(runtime, &pm, &failures, w, &mut rx, None).await.expect("IK handshake after restart");
    let client_static = serving.await.unwrap();
    assert_eq!(client_static, noise_key, "IK proved the stored noise key");
}
