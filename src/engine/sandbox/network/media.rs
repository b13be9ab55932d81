//! Media files the sandbox delivered, kept so recipients can download them
//! (WhatsApp keeps them on its CDN for a while). Bounded: the oldest go first.

use std::collections::VecDeque;

use super::*;

/// Files kept at most; older handles then answer "not found", like expired media.
const KEPT: usize = 256;

#[derive(Default)]
pub(super) struct Kept(VecDeque<(String, Media)>);

impl Kept {
    /// Keeps a file (its bytes are shared, not copied); returns its handle.
    pub fn keep(&mut self, media: &Media) -> String {
        let handle = format!("sbx_{}", ids::message_id());
        if self.0.len() >= KEPT {
            self.0.pop_front();
        }
        self.0.push_back((handle.clone(), media.clone()));
        handle
    }

    fn get(&self, handle: &str) -> Option<&Media> {
        self.0.iter().find(|(h, _)| h == handle).map(|(_, m)| m)
    }
}

impl SandboxNetwork {
    pub(crate) fn download_media(&self, session: &str, handle: &str) -> EngineResult<DownloadedMedia> {
        let world = self.world();
        Self::online(&world, session)?;
        let media = world.media.get(handle).ok_or_else(|| not_found("media"))?;
        Ok(DownloadedMedia { data: media.data.to_vec(), mime_type: media.mime_type.clone() })
    }
}
