//! WhatsApp group answers → the gateway's group types, as pure functions.

use chrono::{DateTime, Utc};
use whatsapp_rust::features::GroupMetadata;
use whatsapp_rust::wacore::iq::groups::ParticipantChangeResponse;

use super::incoming::jid;
use crate::wa::{GroupInfo, GroupParticipant, ParticipantResult};

/// A group's metadata. Participants are named by phone number where WhatsApp
/// tells it (groups in LID mode address members by privacy id).
pub fn group_info(m: &GroupMetadata) -> Option<GroupInfo> {
    Some(GroupInfo {
        jid: jid(&m.id)?,
        subject: m.subject.clone(),
        description: m.description.clone(),
        owner: m.creator_pn.as_ref().or(m.creator.as_ref()).and_then(jid),
        participants: m
            .participants
            .iter()
            .filter_map(|p| {
                let who = p.phone_number.as_ref().and_then(jid).or_else(|| jid(&p.jid))?;
                Some(GroupParticipant { jid: who, admin: p.is_admin(), super_admin: p.is_super_admin() })
            })
            .collect(),
        created_at: m
            .creation_time
            .and_then(|t| i64::try_from(t).ok())
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0)),
        announce: m.is_announcement,
        locked: m.is_locked,
    })
}

/// One participant's outcome. WhatsApp answers with an HTTP-like status:
/// 200 ok, 403 privacy settings, 404 not on WhatsApp, 409 already in /
/// not in the group; anything else is reported as is.
pub fn participant_result(r: &ParticipantChangeResponse) -> Option<ParticipantResult> {
    change(&r.jid, r.phone_number.as_ref(), r.status.as_deref(), r.error.as_deref())
}

/// The fields of a `ParticipantChangeResponse` (which the crate does not let
/// others build, hence this split for tests).
fn change(
    who: &whatsapp_rust::Jid,
    phone: Option<&whatsapp_rust::Jid>,
    status: Option<&str>,
    error: Option<&str>,
) -> Option<ParticipantResult> {
    let who = phone.and_then(jid).or_else(|| jid(who))?;
    let code = error.or(status).unwrap_or("200");
    let status = match code {
        "200" => "ok",
        "403" => "forbidden",
        "404" => "not_found",
        "409" => "conflict",
        other => return Some(ParticipantResult { jid: who, status: format!("error_{other}") }),
    };
    Some(ParticipantResult { jid: who, status: status.into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wa::Jid;

    fn wjid(s: &str) -> whatsapp_rust::Jid {
        s.parse().unwrap()
    }

    #[test]
    fn participant_statuses_become_stable_words() {
        let cases = [
            (Some("200"), None, "ok"),
            (None, Some("403"), "forbidden"),
            (None, Some("404"), "not_found"),
            (None, Some("409"), "conflict"),
            (None, Some("500"), "error_500"),
            (None, None, "ok"),
        ];
        for (status, error, want) in cases {
            let r = change(
                &wjid("100000000000001@lid"),
                Some(&wjid("491702220000@s.whatsapp.net")),
                status,
                error,
            )
            .unwrap();
            assert_eq!(r.status, want, "{status:?}/{error:?}");
            assert_eq!(r.jid, Jid::parse("491702220000@s.whatsapp.net").unwrap(), "phone number preferred");
        }
        let lid_only = change(&wjid("100000000000001@lid"), None, Some("200"), None).unwrap();
        assert_eq!(lid_only.jid, Jid::parse("100000000000001@lid").unwrap());
    }

    #[test]
    fn metadata_names_members_by_phone_with_their_roles() {
        use whatsapp_rust::features::GroupParticipant as Member;
        use whatsapp_rust::wacore::iq::groups::ParticipantType;
        let member = |lid: &str, phone: Option<&str>, t| Member {
            jid: wjid(lid),
            phone_number: phone.map(wjid),
            lid: None,
            username: None,
            participant_type: t,
            details: None,
        };
        let m = GroupMetadata {
            id: wjid("120363000000000001@g.us"),
            subject: "Team".into(),
            description: Some("weekly".into()),
            creator: Some(wjid("100000000000001@lid")),
            creator_pn: Some(wjid("491702220000@s.whatsapp.net")),
            creation_time: Some(1_764_590_400),
            is_announcement: true,
            participants: vec![
                member(
                    "100000000000001@lid",
                    Some("491702220000@s.whatsapp.net"),
                    ParticipantType::SuperAdmin,
                ),
                member("100000000000002@lid", None, ParticipantType::Member),
                member("100000000000003@lid", Some("491703330000@s.whatsapp.net"), ParticipantType::Admin),
            ],
            ..Default::default()
        };
        let g = group_info(&m).unwrap();
        assert_eq!((g.subject.as_str(), g.description.as_deref()), ("Team", Some("weekly")));
        assert_eq!(g.owner, Some(Jid::parse("491702220000@s.whatsapp.net").unwrap()));
        assert_eq!(g.created_at.unwrap().to_rfc3339(), "2025-12-01T12:00:00+00:00");
        assert_eq!((g.announce, g.locked), (true, false));
        let roles: Vec<_> =
            g.participants.iter().map(|p| (p.jid.to_string(), p.admin, p.super_admin)).collect();
        assert_eq!(
            roles,
            [
                ("491702220000@s.whatsapp.net".to_owned(), true, true),
                ("100000000000002@lid".to_owned(), false, false),
                ("491703330000@s.whatsapp.net".to_owned(), true, false),
            ]
        );
    }
}
