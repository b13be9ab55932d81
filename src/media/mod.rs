//! Uploaded media: streamed to a private directory, typed by its bytes,
//! referenced by an expiring `media_id`.
//!
//! Safety rules, all enforced here:
//! - the type comes from the file's magic bytes (`infer`), never from its
//!   name or the client's Content-Type; only a whitelist of image, video,
//!   audio and document types is kept, and a declared type that disagrees
//!   with the bytes is refused;
//! - size caps are checked while the body streams in, so an oversized upload
//!   is refused before it is read whole;
//! - stored names are random ids: no part of a client's file name ever
//!   becomes a path (the name is kept only as metadata, for documents);
//! - the directory is created 0700 and files 0600; a partial file is removed
//!   on every failure path (a guard deletes it unless the upload completes).

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

/// Bytes kept in memory to recognise the type.
const SNIFF: usize = 8192;

/// The types kept: MIME type as `infer` names it.
const ALLOWED: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "video/mp4",
    "video/3gpp",
    "video/quicktime",
    "audio/ogg",
    "audio/mpeg",
    "audio/m4a",
    "audio/aac",
    "audio/x-wav",
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
];

/// Other spellings clients use for the same types.
fn canonical(mime: &str) -> &str {
    match mime {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        "audio/mp4" | "audio/x-m4a" => "audio/m4a",
        "audio/mp3" => "audio/mpeg",
        "audio/wav" | "audio/wave" => "audio/x-wav",
        other => other,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("the file is empty")]
    Empty,
    #[error("files of type {0} are not accepted")]
    NotAllowed(String),
    #[error("the file is {detected}, not {declared} as declared")]
    Mismatch { declared: String, detected: String },
    #[error("the upload stalled")]
    Timeout,
    #[error("the upload was interrupted: {0}")]
    Body(String),
    #[error("media {0} does not exist or has expired")]
    NotFound(String),
    #[error("media storage: {0}")]
    Io(#[from] std::io::Error),
}

/// What is kept about a stored file (and shown by the API).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(example = json!({"id": "med_0192f0c46b557d1e9b8e3f1a2c4d5e6f", "mime_type": "image/jpeg", "size": 48213,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "file_name": "receipt.jpg",
    "created_at": "2026-12-01T12:00:00Z", "expires_at": "2026-12-02T12:00:00Z"}))]
pub struct MediaInfo {
    /// Use as `media.id` in sends until `expires_at`.
    pub id: String,
    /// Recognised from the file's bytes.
    pub mime_type: String,
    pub size: u64,
    pub sha256: String,
    /// The client's name for it (documents show it); never used as a path.
    pub file_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Limits of an upload.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub image_max_bytes: u64,
    pub video_max_bytes: u64,
    pub audio_max_bytes: u64,
    pub read_timeout: Duration,
    pub ttl: Duration,
}

impl Limits {
    fn cap_for(&self, mime: &str) -> u64 {
        let cap = match mime.split('/').next() {
            Some("image") => self.image_max_bytes,
            Some("video") => self.video_max_bytes,
            Some("audio") => self.audio_max_bytes,
            _ => 0,
        };
        if cap == 0 { self.max_bytes } else { cap.min(self.max_bytes) }
    }
}

#[derive(Clone)]
pub struct MediaStore {
    dir: PathBuf,
    limits: Limits,
}

/// Deletes a partial file unless the upload completed.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn valid_id(id: &str) -> bool {
    id.len() == 36 && id.starts_with("med_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit())
}

impl MediaStore {
    /// Opens (creating, 0700) the media directory.
    pub fn open(dir: PathBuf, limits: Limits) -> anyhow::Result<Self> {
        crate::store::ensure_private_dir(&dir)?;
        Ok(Self { dir, limits })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn blob(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.bin"))
    }

    fn meta(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Streams `body` into the store. `declared` is the client's type, if
    /// any (`application/octet-stream` declares nothing).
    pub async fn save<S, E>(
        &self,
        mut body: S,
        declared: Option<&str>,
        file_name: Option<&str>,
    ) -> Result<MediaInfo, MediaError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use sha2::{Digest, Sha256};
        let id = format!("med_{}", uuid::Uuid::now_v7().simple());
        let tmp = self.dir.join(format!(".{id}.part"));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&tmp).await?;
        let mut partial = Partial(Some(tmp.clone()));
        let mut head = Vec::with_capacity(SNIFF);
        let mut size: u64 = 0;
        let mut hash = Sha256::new();
        loop {
            let chunk = match tokio::time::timeout(self.limits.read_timeout, body.next()).await {
                Err(_) => return Err(MediaError::Timeout),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(MediaError::Body(e.to_string())),
                Ok(Some(Ok(chunk))) => chunk,
            };
            size += chunk.len() as u64;
            if size > self.limits.max_bytes {
                return Err(MediaError::TooLarge(self.limits.max_bytes));
            }
            if head.len() < SNIFF {
                let take = (SNIFF - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            hash.update(&chunk);
            file.write_all(&chunk).await?;
        }
        if size == 0 {
            return Err(MediaError::Empty);
        }
        let detected =
            infer::get(&head).map(|t| t.mime_type().to_owned()).unwrap_or_else(|| "unknown".into());
        if !ALLOWED.contains(&detected.as_str()) {
            return Err(MediaError::NotAllowed(detected));
        }
        if let Some(declared) =
            declared.map(|d| d.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            && declared != "application/octet-stream"
            && !declared.is_empty()
            && canonical(&declared) != detected
        {
            return Err(MediaError::Mismatch { declared, detected });
        }
        let cap = self.limits.cap_for(&detected);
        if size > cap {
            return Err(MediaError::TooLarge(cap));
        }
        file.sync_all().await?;
        drop(file);
        let now = Utc::now();
        let info = MediaInfo {
            id: id.clone(),
            mime_type: detected,
            size,
            sha256: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            file_name: file_name.map(clean_name).filter(|n| !n.is_empty()),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(self.limits.ttl).unwrap_or_default(),
        };
        tokio::fs::write(self.meta(&id), serde_json::to_vec(&info).map_err(std::io::Error::other)?).await?;
        tokio::fs::rename(&tmp, self.blob(&id)).await?;
        partial.0 = None;
        metrics::counter!("wag_media_uploads_total").increment(1);
        Ok(info)
    }

    /// The metadata of an unexpired upload.
    pub async fn info(&self, id: &str) -> Result<MediaInfo, MediaError> {
        if !valid_id(id) {
            return Err(MediaError::NotFound(id.to_owned()));
        }
        let raw = tokio::fs::read(self.meta(id)).await.map_err(|_| MediaError::NotFound(id.to_owned()))?;
        let info: MediaInfo =
            serde_json::from_slice(&raw).map_err(|_| MediaError::NotFound(id.to_owned()))?;
        if info.expires_at <= Utc::now() {
            return Err(MediaError::NotFound(id.to_owned()));
        }
        Ok(info)
    }

    /// The bytes and metadata of an unexpired upload.
    pub async fn load(&self, id: &str) -> Result<(Vec<u8>, MediaInfo), MediaError> {
        let info = self.info(id).await?;
        let data = tokio::fs::read(self.blob(id)).await.map_err(|_| MediaError::NotFound(id.to_owned()))?;
        Ok((data, info))
    }

    /// Removes expired uploads and partial files left by a crash.
    pub async fn prune(&self) -> std::io::Result<usize> {
        let mut removed = 0;
        let mut entries = tokio::fs::read_dir(&self.dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".part") {
                let age = entry.metadata().await?.modified()?.elapsed().unwrap_or_default();
                if age > Duration::from_secs(3600) {
                    let _ = tokio::fs::remove_file(entry.path()).await;
                    removed += 1;
                }
            } else if let Some(id) = name.strip_suffix(".json")
                && matches!(self.info(id).await, Err(MediaError::NotFound(_)))
            {
                let _ = tokio::fs::remove_file(self.blob(id)).await;
                let _ = tokio::fs::remove_file(entry.path()).await;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// A client's file name as metadata: the last path component, printable,
/// at most 255 characters.
fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    last.chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_owned()
}

#[cfg(test)]
mod tests;
