//! Listing parameters and envelopes shared by every paginated endpoint.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Default page size when the client does not ask.
pub const DEFAULT_LIMIT: u32 = 50;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500, example = 50)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn limit(&self) -> u32 {
        page_limit(self.limit)
    }

    /// The cursor of listings paged by row id (a decimal id).
    pub fn row_cursor(&self) -> crate::error::ApiResult<Option<i64>> {
        self.cursor.as_deref().map(str::parse::<i64>).transpose().map_err(|_| {
            crate::error::Error::validation(
                "invalid cursor",
                serde_json::json!({"cursor": ["must be the next_cursor of a previous page"]}),
            )
        })
    }
}

/// The page size for a requested `limit`: the default when absent, clamped.
pub fn page_limit(requested: Option<u32>) -> u32 {
    requested.unwrap_or(DEFAULT_LIMIT).clamp(1, crate::store::Page::<()>::MAX_LIMIT)
}

/// One page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Paginated<T> {
    /// Builds a page; a full page means there may be more.
    pub fn new(data: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Self {
        let next_cursor = match data.last() {
            Some(last) if data.len() >= limit as usize => Some(cursor_of(last)),
            _ => None,
        };
        Self { data, next_cursor }
    }
}
