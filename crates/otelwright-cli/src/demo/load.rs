//! The demo's built-in load: a fixed cycle of good, slow, failing and invalid requests to health-agent, so even
//! a short run shows every kind of signal. Slow and failing requests are real: the recommender ranks its whole
//! catalogue for topic `research` and its model is down for topic `chaos` (health-agent answers 502).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What kind of request to send next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Good,
    Slow,
    Failing,
    Invalid,
}

/// A deterministic cycle of ten: seven good, one slow, one failing, one invalid.
pub(crate) fn kind_of(n: u64) -> Kind {
    match n % 10 {
        3 => Kind::Slow,
        6 => Kind::Failing,
        9 => Kind::Invalid,
        _ => Kind::Good,
    }
}

const MESSAGES: [&str; 4] = [
    "How can I sleep better after late shifts?",
    "I want to get stronger without a gym membership.",
    "What should I eat before a long run?",
    "Work has been stressful lately, any tips?",
];

/// Answers seen so far, by class.
#[derive(Debug, Default)]
pub(crate) struct LoadStats {
    sent: AtomicU64,
    ok: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    failed: AtomicU64,
    ws_messages: AtomicU64,
}

/// A copy of [`LoadStats`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LoadCounts {
    pub(crate) sent: u64,
    pub(crate) ok: u64,
    pub(crate) client_errors: u64,
    pub(crate) server_errors: u64,
    /// No answer at all (connection refused, timeout).
    pub(crate) failed: u64,
    /// WebSocket messages sent and received by the conversations.
    pub(crate) ws_messages: u64,
}

impl std::fmt::Display for LoadCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests (2xx {}, 4xx {}, 5xx {}, no answer {}), {} WebSocket messages",
            self.sent, self.ok, self.client_errors, self.server_errors, self.failed, self.ws_messages
        )
    }
}

impl LoadStats {
    pub(crate) fn counts(&self) -> LoadCounts {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LoadCounts {
            sent: get(&self.sent),
            ok: get(&self.ok),
            client_errors: get(&self.client_errors),
            server_errors: get(&self.server_errors),
            failed: get(&self.failed),
            ws_messages: get(&self.ws_messages),
        }
    }
}

/// Sends the demo's requests to one health-agent.
#[derive(Clone, Debug)]
pub(crate) struct Load {
    client: reqwest::Client,
    base: String,
    pub(crate) stats: Arc<LoadStats>,
}

impl Load {
    pub(crate) fn new(base: String) -> anyhow::Result<Load> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(Load { client, base, stats: Arc::default() })
    }

    /// Sends request number `n` and counts its answer.
    pub(crate) async fn send(&self, n: u64) {
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        let counter = match self.request(n).send().await {
            Ok(r) if r.status().is_success() => &self.stats.ok,
            Ok(r) if r.status().is_client_error() => &self.stats.client_errors,
            Ok(_) => &self.stats.server_errors,
            Err(_) => &self.stats.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn chat(&self, body: serde_json::Value) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/api/v1/chat", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    fn request(&self, n: u64) -> reqwest::RequestBuilder {
        let user = (1 + n * 7 % 20).to_string();
        let message = MESSAGES[(n / 10 % MESSAGES.len() as u64) as usize];
        match kind_of(n) {
            Kind::Slow => self.chat(serde_json::json!({ "user_id": user, "message": message, "topic": "research" })),
            Kind::Failing => self.chat(serde_json::json!({ "user_id": user, "message": message, "topic": "chaos" })),
            Kind::Invalid if n % 20 == 9 => self.chat(serde_json::json!({ "user_id": user, "message": "  " })),
            Kind::Invalid => self.client.post(format!("{}/api/v1/chat", self.base)).body("{\"user_id\": 7,"),
            Kind::Good => match n % 3 {
                0 => self.chat(serde_json::json!({ "user_id": user, "message": message })),
                1 => self.client.get(format!("{}/api/v1/users/{user}", self.base)),
                _ => self.client.get(format!("{}/api/v1/recommendations/{user}", self.base)),
            },
        }
    }
}

/// How many WebSocket conversations the demo holds open beside its requests.
pub(crate) const CONVERSATIONS: u64 = 2;
/// Questions per connection before it is closed and opened again (so connection durations get recorded).
const QUESTIONS_PER_CONNECTION: u64 = 15;

impl Load {
    /// Holds a conversation open on `/api/v1/chat/stream`: a question a second, each answer read to its `done`
    /// message; reconnects every [`QUESTIONS_PER_CONNECTION`] questions; closes cleanly when `stop` turns true.
    pub(crate) async fn converse(&self, id: u64, mut stop: tokio::sync::watch::Receiver<bool>) {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let url = format!("{}/api/v1/chat/stream", self.base.replacen("http://", "ws://", 1));
        let mut asked = 0_u64;
        while !*stop.borrow() {
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tokio::select! { _ = stop.changed() => {}, _ = tokio::time::sleep(Duration::from_secs(1)) => {} }
                continue;
            };
            for _ in 0..QUESTIONS_PER_CONNECTION {
                let question = MESSAGES[((id + asked) % MESSAGES.len() as u64) as usize];
                asked += 1;
                if ws.send(Message::text(question)).await.is_err() {
                    break;
                }
                self.stats.ws_messages.fetch_add(1, Ordering::Relaxed);
                // The answer's chunks, up to and including its `done` message (a stalled service gives up the
                // connection after 10 s, so the demo's end never waits on it).
                let answer = async {
                    while let Some(Ok(message)) = ws.next().await {
                        self.stats.ws_messages.fetch_add(1, Ordering::Relaxed);
                        if message.to_text().is_ok_and(|t| t.contains("\"done\":true")) {
                            return true;
                        }
                    }
                    false
                };
                if !tokio::time::timeout(Duration::from_secs(10), answer).await.unwrap_or(false) {
                    break;
                }
                tokio::select! { _ = stop.changed() => break, _ = tokio::time::sleep(Duration::from_secs(1)) => {} }
            }
            let _ = ws.close(None).await;
            // Read up to the server's close reply, so the connection ends as a clean close on both sides.
            let _ = tokio::time::timeout(Duration::from_secs(2), async { while let Some(Ok(_)) = ws.next().await {} })
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ten_requests_show_every_kind() {
        let kinds: Vec<Kind> = (0..10).map(kind_of).collect();
        for k in [Kind::Good, Kind::Slow, Kind::Failing, Kind::Invalid] {
            assert!(kinds.contains(&k), "{k:?}");
        }
    }
}
