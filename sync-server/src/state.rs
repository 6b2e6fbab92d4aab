//! What every handler shares: the store.

use std::sync::Arc;

use crate::error::ApiError;
use crate::store::{Store, StoreError};

/// The server's shared state. Nothing but the store: server processes are interchangeable.
#[derive(Debug)]
pub struct AppState {
    pub store: Arc<dyn Store>,
}

impl AppState {
    /// Runs a blocking store call off the async workers.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "store task failed");
                ApiError::new(
                    cageur_protocol::sync::ErrorCode::Internal,
                    "the server failed",
                )
            })?
            .map_err(ApiError::from)
    }
}
