//! Uploads: typed by their bytes, capped while streaming, sent by media_id
//! or in one request.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::send::{CONFIG, accepted, send, wait_message};
use crate::support::{Backend, TestApp, assert_error};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0PE\0\0";

/// One part of a form: name, file name, content type, bytes.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart form.
fn form(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "wagboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file, ctype, data) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(f) = file {
            body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if let Some(t) = ctype {
            body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_form(app: &TestApp, path: &str, parts: &[Part<'_>]) -> reqwest::Response {
    let (ctype, body) = form(parts);
    app.authed(Method::POST, path).header("content-type", ctype).body(body).send().await.unwrap()
}

#[tokio::test]
async fn an_upload_is_sent_by_its_id_and_in_one_request() {
    let config = CONFIG.replace("[messages]\n", "[media]\nmax_bytes = 4096\n[messages]\n");
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &config).await else { return };
    linked(&app, "a", "491706500001").await;
    linked(&app, "b", "491706500002").await;

    // The client calls it a .jpg with no type; the bytes say PNG.
    let res = post_form(&app, "/media", &[("file", Some("../../holiday.jpg"), None, PNG)]).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let up: Value = res.json().await.unwrap();
    assert_eq!(up["mime_type"], "image/png");
    assert_eq!(up["size"], PNG.len());
    assert_eq!(up["file_name"], "holiday.jpg");
    let id = up["id"].as_str().unwrap();
    assert_eq!(get_json(&app, &format!("/media/{id}")).await["sha256"], up["sha256"]);

    let m = accepted(
        &app,
        "a",
        json!({"to": "491706500002", "type": "image", "media": {"id": id}, "caption": "sun"}),
    )
    .await;
    wait_message(&app, "a", m["id"].as_str().unwrap(), "delivered").await;
    let got = crate::send::wait_incoming(&app, "b", 1).await;
    assert_eq!(got["data"][0]["type"], "image");

    // The upload's type must suit the message type; unknown ids are refused now, not later.
    let res = send(&app, "a", json!({"to": "491706500002", "type": "video", "media": {"id": id}})).await;
    assert_error(res, 422, "validation_failed").await;
    let res = send(&app, "a", json!({"to": "491706500002", "type": "image", "media": {"id": "med_00000000000000000000000000000000"}})).await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert!(err["error"]["details"]["media.id"].is_array(), "{err}");

    // Upload and send in one request.
    let res = post_form(
        &app,
        "/sessions/a/message/media",
        &[
            ("to", None, None, b"491706500002"),
            ("caption", None, None, b"in one go"),
            ("file", Some("p.png"), Some("image/png"), PNG),
        ],
    )
    .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let one: Value = res.json().await.unwrap();
    assert_eq!(one["type"], "image");
    assert_eq!(one["preview"], "in one go");
    wait_message(&app, "a", one["id"].as_str().unwrap(), "delivered").await;
    app.stop().await.unwrap();
}

#[tokio::test]
async fn hostile_uploads_are_refused_and_nothing_lands_outside_the_media_dir() {
    let config = CONFIG.replace("[messages]\n", "[media]\nmax_bytes = 4096\n[messages]\n");
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &config).await else { return };
    create(&app, json!({"id": "a", "start": false})).await;
    let data_dir = app.state.config.storage.data_dir.clone();
    let before: Vec<_> =
        walk(&data_dir).into_iter().filter(|p| !p.starts_with(app.state.media.dir())).collect();

    let spoofed = post_form(&app, "/media", &[("file", Some("x.jpg"), Some("image/jpeg"), PNG)]).await;
    assert_error(spoofed, 415, "media_type_mismatch").await;
    let exe = post_form(&app, "/media", &[("file", Some("cat.jpg"), Some("image/jpeg"), EXE)]).await;
    assert_error(exe, 415, "media_type_not_allowed").await;
    let html = post_form(&app, "/media", &[("file", Some("a.png"), None, b"<html><script>x</script>")]).await;
    assert_error(html, 415, "media_type_not_allowed").await;
    let empty = post_form(&app, "/media", &[("file", Some("e.png"), Some("image/png"), b"")]).await;
    assert_error(empty, 422, "validation_failed").await;
    let mut big = PNG.to_vec();
    big.resize(64 * 1024, 0);
    let too_big = post_form(&app, "/media", &[("file", Some("big.png"), None, &big)]).await;
    assert_error(too_big, 413, "payload_too_large").await;
    let no_file = post_form(&app, "/media", &[("other", None, None, b"x")]).await;
    assert_error(no_file, 400, "missing_file").await;
    let absolute = post_form(&app, "/media", &[("file", Some("/etc/cron.d/evil"), None, PNG)]).await;
    assert_eq!(absolute.status(), 201);

    // Only the media directory changed, and only with id-named files.
    let after: Vec<_> =
        walk(&data_dir).into_iter().filter(|p| !p.starts_with(app.state.media.dir())).collect();
    assert_eq!(before.len(), after.len(), "{after:?}");
    for file in walk(app.state.media.dir()) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("med_"), "{name}");
    }
    assert!(!std::path::Path::new("/etc/cron.d/evil").exists());
    app.stop().await.unwrap();
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
