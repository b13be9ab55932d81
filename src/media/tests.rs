use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";
const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0PE\0\0";
const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";

fn limits(max: u64) -> Limits {
    Limits {
        max_bytes: max,
        image_max_bytes: 0,
        video_max_bytes: 0,
        audio_max_bytes: 0,
        read_timeout: Duration::from_secs(5),
        ttl: Duration::from_secs(3600),
    }
}

fn store(max: u64) -> (tempfile::TempDir, MediaStore) {
    let root = tempfile::tempdir().unwrap();
    let store = MediaStore::open(root.path().join("media"), limits(max)).unwrap();
    (root, store)
}

fn body(chunks: Vec<Vec<u8>>) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin {
    futures_util::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c))))
}

/// Every file under `root`, recursively.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn the_type_comes_from_the_bytes_and_names_never_become_paths() {
    let (root, store) = store(1 << 20);
    for name in ["../../etc/passwd", "/etc/shadow", "..\\..\\boot.ini", "photo.png"] {
        let info = store.save(body(vec![PNG.to_vec()]), Some("image/png"), Some(name)).await.unwrap();
        assert_eq!(info.mime_type, "image/png");
        assert!(valid_id(&info.id));
        let kept = info.file_name.clone().unwrap_or_default();
        assert!(!kept.contains('/') && !kept.contains('\\') && !kept.starts_with('.'), "{kept}");
        let (data, loaded) = store.load(&info.id).await.unwrap();
        assert_eq!((data.as_slice(), loaded), (PNG, info));
    }
    // A spoofed extension and no declared type: typed by the bytes.
    let pdf = store.save(body(vec![PDF.to_vec()]), None, Some("invoice.jpg")).await.unwrap();
    assert_eq!(pdf.mime_type, "application/pdf");
    // Nothing outside the media directory, and only ids as names.
    for file in files(root.path()) {
        assert!(file.starts_with(store.dir()), "{}", file.display());
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("med_") && (name.ends_with(".bin") || name.ends_with(".json")), "{name}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

#[tokio::test]
async fn spoofed_types_executables_and_empty_files_are_refused_without_leftovers() {
    let (root, store) = store(1 << 20);
    // A declared type that disagrees with the bytes.
    let e = store.save(body(vec![PNG.to_vec()]), Some("image/jpeg"), Some("x.jpg")).await.unwrap_err();
    assert!(matches!(e, MediaError::Mismatch { ref detected, .. } if detected == "image/png"), "{e}");
    // Executables dressed as images (a polyglot starting with MZ, an ELF).
    let e = store
        .save(body(vec![EXE.to_vec(), JPEG.to_vec()]), Some("image/jpeg"), Some("cat.jpg"))
        .await
        .unwrap_err();
    assert!(matches!(e, MediaError::NotAllowed(_)), "{e}");
    let e = store.save(body(vec![ELF.to_vec()]), None, Some("run.png")).await.unwrap_err();
    assert!(matches!(e, MediaError::NotAllowed(_)), "{e}");
    // Text with no magic (a script, HTML) is not a whitelisted type.
    let e = store
        .save(body(vec![b"<script>alert(1)</script>".to_vec()]), Some("text/html"), None)
        .await
        .unwrap_err();
    assert!(matches!(e, MediaError::NotAllowed(_)), "{e}");
    let e = store.save(body(vec![]), Some("image/png"), None).await.unwrap_err();
    assert!(matches!(e, MediaError::Empty), "{e}");
    // Aliases of the same type are fine.
    store.save(body(vec![JPEG.to_vec()]), Some("image/jpg"), None).await.unwrap();
    let leftovers: Vec<_> =
        files(root.path()).into_iter().filter(|f| f.to_string_lossy().ends_with(".part")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn an_oversized_upload_is_refused_before_it_is_read_whole() {
    let (root, store) = store(64);
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let chunks = futures_util::stream::iter(0..1000).map(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
        Ok::<_, std::io::Error>(Bytes::from_static(&[0xFF; 32]))
    });
    let e = store.save(Box::pin(chunks), None, None).await.unwrap_err();
    assert!(matches!(e, MediaError::TooLarge(64)), "{e}");
    assert!(pulled.load(Ordering::Relaxed) <= 3, "read {} chunks", pulled.load(Ordering::Relaxed));
    assert!(files(root.path()).is_empty(), "the partial file is gone");
}

#[tokio::test]
async fn concurrent_uploads_get_distinct_ids_and_expired_ones_are_gone() {
    let (_root, store) = store(1 << 20);
    let uploads = (0..16).map(|_| store.save(body(vec![PNG.to_vec()]), None, None));
    let ids: std::collections::HashSet<String> =
        futures_util::future::join_all(uploads).await.into_iter().map(|r| r.unwrap().id).collect();
    assert_eq!(ids.len(), 16);

    let mut short = limits(1 << 20);
    short.ttl = Duration::ZERO;
    let expiring = MediaStore::open(store.dir().to_owned(), short).unwrap();
    let gone = expiring.save(body(vec![PNG.to_vec()]), None, None).await.unwrap();
    assert!(matches!(expiring.load(&gone.id).await, Err(MediaError::NotFound(_))));
    assert!(matches!(store.load("med_../../etc/passwd").await, Err(MediaError::NotFound(_))));
    assert_eq!(expiring.prune().await.unwrap(), 1);
    assert!(!expiring.blob(&gone.id).exists());
    assert_eq!(store.load(ids.iter().next().unwrap()).await.unwrap().0, PNG);
}
