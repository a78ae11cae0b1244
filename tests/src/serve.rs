//! Serves an in-process handler over real HTTP on 127.0.0.1, converting requests and answers
//! the way API Gateway does. For deployment settings the shared local stack does not run (it
//! gives every function one environment), e.g. `DisableRequiresToken=false`.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::Request;
use lambda_http::{Body, Response};

/// A running server; stops when dropped.
pub struct Served {
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `handler` at `http://127.0.0.1:<port>` (every path and method).
pub async fn serve<H, F>(handler: H) -> Served
where
    H: Fn(lambda_http::Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let app = axum::Router::new().fallback(move |request: Request<axum::body::Body>| {
        let handler = handler.clone();
        async move {
            let (parts, body) = request.into_parts();
            let bytes: Bytes = axum::body::to_bytes(body, 10 * 1024 * 1024)
                .await
                .unwrap_or_default();
            let body = if bytes.is_empty() {
                Body::Empty
            } else {
                Body::Binary(bytes.to_vec())
            };
            let answer = handler(lambda_http::Request::from_parts(parts, body)).await;
            let (parts, body) = answer.into_parts();
            let bytes = match body {
                Body::Text(text) => text.into_bytes(),
                Body::Binary(bytes) => bytes,
                _ => Vec::new(),
            };
            axum::http::Response::from_parts(parts, axum::body::Body::from(bytes))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Served { base_url, task }
}
