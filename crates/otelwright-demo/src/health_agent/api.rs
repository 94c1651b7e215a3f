//! The API routes: `POST /api/v1/chat`, `GET /api/v1/chat/stream` (WebSocket), `GET /api/v1/users/{id}` and
//! `GET /api/v1/recommendations/{id}`.
//!
//! A chat message is validated (422 with the field and the reason otherwise), its user's profile is read
//! through the cache, its tokens are counted, it is stored, and the recommender is asked for suggestions over
//! gRPC (502 when that fails). The chat's own steps are measured with `#[otelwright::measured]`
//! (`function.calls`, `function.calls.duration`) and the token counts recorded with `otelwright::record!`
//! (`chat.tokens{direction}`).

use std::sync::Arc;

use crate::recommender::pb::RecommendRequest;
use crate::recommender::pb::recommender_client::RecommenderClient;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use otelwright::http::client::HttpClientService;
use otelwright::http::ws::{Message, WebSocket, WebSocketUpgrade};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::cache::Profiles;
use super::db::{Db, Profile};

/// The recommender client: a tonic channel under otelwright's client layer (CLIENT spans, propagation).
pub(crate) type Recommender = RecommenderClient<HttpClientService<tonic::transport::Channel>>;

/// What the handlers share.
pub(crate) struct App {
    pub(crate) db: Db,
    pub(crate) profiles: Profiles,
    pub(crate) recommender: Recommender,
}

pub(crate) fn routes(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/v1/chat", post(chat))
        .route("/api/v1/chat/stream", get(chat_stream))
        .route("/api/v1/users/{id}", get(user))
        .route("/api/v1/recommendations/{id}", get(recommendations))
        .with_state(app)
}

/// The body of `POST /api/v1/chat`.
#[derive(Debug, Deserialize)]
struct ChatRequest {
    user_id: String,
    message: String,
    /// Defaults to the user's interest.
    topic: Option<String>,
}

#[derive(Debug, Serialize)]
struct ChatReply {
    conversation_id: i64,
    reply: String,
    input_tokens: usize,
    output_tokens: usize,
    suggestions: Vec<Suggestion>,
}

#[derive(Debug, Serialize)]
struct Suggestion {
    title: String,
    score: f64,
}

/// An API error: its status, and a JSON body that says why.
#[derive(Debug, PartialEq)]
pub(crate) enum ApiError {
    /// 422: the request is well-formed HTTP but its content is not acceptable.
    Invalid { field: &'static str, reason: String },
    /// 404.
    NotFound(String),
    /// 502: the recommender failed.
    Upstream(String),
    /// 500: the database failed.
    Internal(String),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(format!("database error: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Invalid { field, reason } => {
                tracing::warn!(field, %reason, "invalid request");
                (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": reason, "field": field }))
            }
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, json!({ "error": what })),
            ApiError::Upstream(reason) => {
                tracing::error!(%reason, "recommender call failed");
                (StatusCode::BAD_GATEWAY, json!({ "error": reason }))
            }
            ApiError::Internal(reason) => {
                tracing::error!(%reason, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": reason }))
            }
        };
        (status, Json(body)).into_response()
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ApiError {
    ApiError::Invalid { field, reason: reason.into() }
}

fn validate_id(id: &str) -> Result<(), ApiError> {
    let ok =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(invalid("user_id", "user_id must be 1-64 characters of A-Z, a-z, 0-9, - and _")) }
}

fn validate(req: &ChatRequest) -> Result<(), ApiError> {
    validate_id(&req.user_id)?;
    if req.message.trim().is_empty() {
        return Err(invalid("message", "message must not be empty"));
    }
    if req.message.chars().count() > 4000 {
        return Err(invalid("message", "message must be at most 4000 characters"));
    }
    if let Some(topic) = &req.topic
        && (topic.is_empty() || topic.len() > 32 || !topic.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return Err(invalid("topic", "topic must be 1-32 lowercase letters"));
    }
    Ok(())
}

impl App {
    /// The profile of `id`: from the cache, else from the database (and then cached).
    async fn profile(&self, id: &str) -> Result<Profile, ApiError> {
        if let Some(p) = self.profiles.get(id).await {
            return Ok(p);
        }
        let profile = self.db.user(id).await?.ok_or_else(|| ApiError::NotFound(format!("user {id} not found")))?;
        self.profiles.put(&profile).await;
        Ok(profile)
    }
}

/// A rough token count: a token per 4 characters of each word, at least one per word.
#[otelwright::measured(name = "chat.count_tokens")]
fn count_tokens(text: &str) -> usize {
    text.split_whitespace().map(|w| w.chars().count().div_ceil(4)).sum()
}

#[otelwright::measured(name = "chat.compose_reply")]
fn compose_reply(profile: &Profile, topic: &str, suggestions: &[Suggestion]) -> String {
    let titles: Vec<&str> = suggestions.iter().map(|s| s.title.as_str()).collect();
    format!("Thanks, {}. On {topic}, you might like: {}.", profile.name, titles.join("; "))
}

/// Asks the recommender (a gRPC CLIENT span under this span).
#[otelwright::measured(name = "chat.suggestions", span)]
async fn suggest(client: &Recommender, user: &str, topic: &str) -> Result<Vec<Suggestion>, tonic::Status> {
    let request = RecommendRequest { user_id: user.to_owned(), topic: topic.to_owned(), limit: 3 };
    let answer = client.clone().recommend(request).await?.into_inner();
    Ok(answer.suggestions.into_iter().map(|s| Suggestion { title: s.title, score: s.score }).collect())
}

fn upstream(status: tonic::Status) -> ApiError {
    ApiError::Upstream(format!("recommender: {} ({:?})", status.message(), status.code()))
}

async fn chat(
    State(app): State<Arc<App>>,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Json<ChatReply>, ApiError> {
    let Json(req) = body.map_err(|e| invalid("body", e.body_text()))?;
    validate(&req)?;
    let profile = app.profile(&req.user_id).await?;
    let topic = req.topic.clone().unwrap_or_else(|| profile.interest.clone());
    let input_tokens = count_tokens(&req.message);
    otelwright::record!("chat.tokens", input_tokens as u64, unit = "{token}", direction = "input");
    let conversation_id = app.db.insert_conversation(&profile.id, &req.message, &topic, input_tokens).await?;
    let suggestions = suggest(&app.recommender, &profile.id, &topic).await.map_err(upstream)?;
    let reply = compose_reply(&profile, &topic, &suggestions);
    let output_tokens = count_tokens(&reply);
    otelwright::record!("chat.tokens", output_tokens as u64, unit = "{token}", direction = "output");
    tracing::info!(conversation_id, input_tokens, output_tokens, topic = %topic, "chat answered");
    Ok(Json(ChatReply { conversation_id, reply, input_tokens, output_tokens, suggestions }))
}

/// `GET /api/v1/chat/stream`: a WebSocket held for a whole conversation. Each text message is a question; the
/// answer streams back in chunks of a few words, then `{"done":true,"chunks":n}`. The connection is one span from
/// upgrade to close and counts in the `websocket.server.*` metrics (otelwright-http's `ws` module).
async fn chat_stream(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(stream_replies)
}

async fn stream_replies(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let question = match message {
            Message::Text(text) => text,
            Message::Close(_) => return,
            _ => continue,
        };
        let reply = stream_reply(question.as_str());
        let words: Vec<&str> = reply.split_whitespace().collect();
        let chunks: Vec<String> = words.chunks(3).map(|c| c.join(" ")).collect();
        otelwright::record!("chat.tokens", count_tokens(&reply) as u64, unit = "{token}", direction = "output");
        for chunk in &chunks {
            // A model produces its answer a few tokens at a time.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if socket.send(Message::Text(chunk.as_str().into())).await.is_err() {
                return;
            }
        }
        let done = json!({ "done": true, "chunks": chunks.len() }).to_string();
        if socket.send(Message::Text(done.into())).await.is_err() {
            return;
        }
    }
}

/// The streamed answer to `question` (the demo has no model: a fixed answer that names the question).
fn stream_reply(question: &str) -> String {
    let question: String = question.chars().take(200).collect();
    format!(
        "You asked: {}. Small steady habits beat big plans: sleep at the same hour, walk after meals, \
         and drink water before coffee.",
        question.trim()
    )
}

async fn user(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Profile>, ApiError> {
    validate_id(&id)?;
    Ok(Json(app.profile(&id).await?))
}

async fn recommendations(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    validate_id(&id)?;
    let profile = app.profile(&id).await?;
    let suggestions = suggest(&app.recommender, &profile.id, &profile.interest).await.map_err(upstream)?;
    Ok(Json(json!({ "user_id": profile.id, "topic": profile.interest, "suggestions": suggestions })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(user: &str, message: &str, topic: Option<&str>) -> ChatRequest {
        ChatRequest { user_id: user.into(), message: message.into(), topic: topic.map(Into::into) }
    }

    #[test]
    fn validation_names_the_field() {
        assert_eq!(validate(&req("7", "How do I sleep better?", Some("sleep"))), Ok(()));
        let field = |r: ChatRequest| match validate(&r) {
            Err(ApiError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(req("", "hi", None)), "user_id");
        assert_eq!(field(req("a b", "hi", None)), "user_id");
        assert_eq!(field(req("7", "   ", None)), "message");
        assert_eq!(field(req("7", &"x".repeat(4001), None)), "message");
        assert_eq!(field(req("7", "hi", Some("Sleep!"))), "topic");
    }

    #[test]
    fn tokens_are_counted_per_word() {
        assert_eq!(count_tokens(""), 0);
        assert_eq!(count_tokens("a bb ccccc"), 1 + 1 + 2);
    }
}
