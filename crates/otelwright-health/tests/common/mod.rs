//! Shared test helpers: serving a router on a real loopback socket, plain HTTP calls, and the CI rule for
//! services that are not reachable (fail with `CI` set, print `SKIPPED:` otherwise).

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use axum::Router;
pub use otelwright_test_support::postgres_url;
use tokio::net::TcpListener;

/// A router served on `127.0.0.1:<ephemeral>` until dropped.
pub struct Server {
    pub base: String,
    client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(router: Router) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("server runs");
    });
    Server { base, client: reqwest::Client::new(), task }
}

/// One answer: status, content type and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Server {
    pub async fn get(&self, path: &str) -> Answer {
        self.request(reqwest::Method::GET, path, None).await
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> Answer {
        self.request(reqwest::Method::GET, path, Some(format!("Bearer {token}"))).await
    }

    pub async fn request(&self, method: reqwest::Method, path: &str, authorization: Option<String>) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        // Every call is bounded: a hanging endpoint fails the test instead of hanging it.
        let response = tokio::time::timeout(Duration::from_secs(20), request.send())
            .await
            .expect("the endpoint answers within 20 s")
            .expect("request succeeds");
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let body = response.text().await.expect("body");
        Answer { status, content_type, body }
    }
}

pub mod fixture;
