//! The crate's call events, built from its own types.

use chrono::{TimeZone, Utc};
use whatsapp_rust::wacore::types::call::{CallAudioCodec, MissedReason};

use super::*;
use crate::wa::Jid;

fn wjid(s: &str) -> whatsapp_rust::Jid {
    s.parse().unwrap()
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 0).unwrap()
}

fn incoming(from: &str, action: CallAction) -> IncomingCall {
    IncomingCall::builder()
        .from(wjid(from))
        .stanza_id("stanza-1".to_owned())
        .timestamp(at())
        .offline(false)
        .action(action)
        .build()
}

fn offer_action(creator: &str, caller_pn: Option<&str>, video: bool, group: Option<&str>) -> CallAction {
    CallAction::Offer {
        call_id: "CALL-1".into(),
        call_creator: wjid(creator),
        caller_pn: caller_pn.map(wjid),
        caller_country_code: Some("49".into()),
        device_class: None,
        joinable: false,
        is_video: video,
        audio: vec![CallAudioCodec { enc: "opus".into(), rate: 16000 }],
        group_jid: group.map(wjid),
    }
}

fn call(event: Option<EngineEvent>) -> CallOffer {
    match event {
        Some(EngineEvent::Call(c)) => c,
        other => panic!("expected a call offer, got {other:?}"),
    }
}

#[test]
fn an_offer_rings_with_the_callers_number_and_keeps_its_route() {
    let c = call(offer(&incoming(
        "491705550001@s.whatsapp.net",
        offer_action("491705550001@s.whatsapp.net", None, true, None),
    )));
    assert_eq!(c.id, "CALL-1");
    assert_eq!(c.from, Jid::parse("491705550001@s.whatsapp.net").unwrap());
    assert!(c.video && c.group.is_none());
    assert_eq!(c.timestamp, at());
    assert_eq!(c.route.peer, "491705550001@s.whatsapp.net");
    assert_eq!(c.route.creator, "491705550001@s.whatsapp.net");
    let json = serde_json::to_value(&c).unwrap();
    assert!(json.get("route").is_none(), "the route is the engine's, not the event's: {json}");
}

#[test]
fn a_caller_addressed_by_lid_is_shown_by_phone_number_and_rejected_by_lid() {
    let c = call(offer(&incoming(
        "100200300400500@lid",
        offer_action("100200300400500@lid", Some("491705550002@s.whatsapp.net"), false, None),
    )));
    assert_eq!(c.from, Jid::parse("491705550002@s.whatsapp.net").unwrap());
    assert_eq!(
        c.route,
        CallRoute { peer: "100200300400500@lid".into(), creator: "100200300400500@lid".into() }
    );
    let (peer, creator) = route(&c.route).unwrap();
    assert_eq!((peer.to_string(), creator.to_string()), (c.route.peer.clone(), c.route.creator.clone()));
}

#[test]
fn group_calls_ring_with_their_group_and_other_stanzas_do_not_ring() {
    let c = call(offer(&incoming(
        "491705550003@s.whatsapp.net",
        offer_action("491705550003@s.whatsapp.net", None, false, Some("120363000000000001@g.us")),
    )));
    assert_eq!(c.group, Some(Jid::parse("120363000000000001@g.us").unwrap()));
    let notice = CallAction::OfferNotice {
        call_id: "CALL-2".into(),
        call_creator: wjid("491705550004@s.whatsapp.net"),
        is_video: true,
        is_group: true,
    };
    let c = call(offer(&incoming("491705550004@s.whatsapp.net", notice)));
    assert_eq!((c.id.as_str(), c.video), ("CALL-2", true));
    let pre = CallAction::PreAccept {
        call_id: "CALL-1".into(),
        call_creator: wjid("491705550001@s.whatsapp.net"),
        audio: Vec::new(),
    };
    assert_eq!(offer(&incoming("491705550001@s.whatsapp.net", pre)), None);
}

#[test]
fn missed_and_elsewhere_end_the_call_with_their_reason() {
    let from = wjid("491705550001@s.whatsapp.net");
    let ended = |e: Option<EngineEvent>| match e {
        Some(EngineEvent::CallEnded(c)) => (c.id, c.from.to_string(), c.reason, c.timestamp),
        other => panic!("expected an ended call, got {other:?}"),
    };
    let who = "491705550001@s.whatsapp.net".to_owned();
    assert_eq!(
        ended(missed(&MissedCall::new(from.clone(), "CALL-1".into(), at(), MissedReason::Remote))),
        ("CALL-1".to_owned(), who.clone(), CallEnd::Missed, at())
    );
    let elsewhere = |o| ended_elsewhere(&CallEndedElsewhere::new(from.clone(), "CALL-1".into(), at(), o));
    assert_eq!(ended(elsewhere(ElsewhereOutcome::Accepted)).2, CallEnd::AnsweredElsewhere);
    assert_eq!(ended(elsewhere(ElsewhereOutcome::Rejected)).2, CallEnd::RejectedElsewhere);
}

#[test]
fn reject_errors_map_to_the_gateways() {
    assert!(matches!(route(&CallRoute::default()), Err(EngineError::Invalid(_))));
    assert!(matches!(reject_error(CallError::EmptyCallId), EngineError::Invalid(_)));
    assert!(matches!(
        reject_error(CallError::Send(whatsapp_rust::ClientError::NotConnected)),
        EngineError::NotConnected
    ));
}
