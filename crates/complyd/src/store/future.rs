//! The answer of a store call: ready at once when the backend answered on the calling thread (a
//! lookup through an index, with no allocation), or a boxed future when it had to wait.

use super::StoreError;
use futures_util::future::BoxFuture;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub enum StoreFuture<'a, T> {
    /// Taken by the first poll.
    Ready(Option<Result<T, StoreError>>),
    Pending(BoxFuture<'a, Result<T, StoreError>>),
}

impl<'a, T> StoreFuture<'a, T> {
    pub fn ready(result: Result<T, StoreError>) -> Self {
        Self::Ready(Some(result))
    }

    pub fn pending(work: impl Future<Output = Result<T, StoreError>> + Send + 'a) -> Self {
        Self::Pending(Box::pin(work))
    }
}

// The value is only ever moved out, never pinned in place.
impl<T> Unpin for StoreFuture<'_, T> {}

impl<T> Future for StoreFuture<'_, T> {
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Ready(result) => Poll::Ready(result.take().unwrap_or_else(|| {
                Err(StoreError::Backend(
                    "a store answer was awaited twice".into(),
                ))
            })),
            Self::Pending(work) => work.as_mut().poll(cx),
        }
    }
}
