//! Where `http.route` comes from: a low-cardinality template such as `/users/{id}`, never the raw path.
//! axum's `MatchedPath` by default; any other router plugs in a [`RouteSource`].

use std::sync::Arc;

use http::{Extensions, Method, Uri};

/// What a route source may look at.
#[derive(Debug)]
pub struct RouteInput<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request URI.
    pub uri: &'a Uri,
    /// The request extensions (routers put their match here).
    pub extensions: &'a Extensions,
}

/// Finds the route template of a request.
///
/// ```
/// use otelwright_http::{RouteInput, RouteSource};
/// /// Every path under /api/ is one route.
/// struct Prefix;
/// impl RouteSource for Prefix {
///     fn route(&self, input: &RouteInput<'_>) -> Option<std::sync::Arc<str>> {
///         input.uri.path().starts_with("/api/").then(|| "/api/*".into())
///     }
/// }
/// ```
pub trait RouteSource: Send + Sync + 'static {
    /// The template, or `None` when the request matched no route (the span is then named by the method alone).
    /// An `Arc` because the span and the measurement both carry it.
    fn route(&self, input: &RouteInput<'_>) -> Option<Arc<str>>;
}

impl<F> RouteSource for F
where
    F: Fn(&RouteInput<'_>) -> Option<Arc<str>> + Send + Sync + 'static,
{
    fn route(&self, input: &RouteInput<'_>) -> Option<Arc<str>> {
        self(input)
    }
}

/// axum's `MatchedPath` (present when the layer is added with `Router::layer` or `route_layer`).
#[derive(Clone, Copy, Debug, Default)]
pub struct MatchedPathRoute;

impl RouteSource for MatchedPathRoute {
    fn route(&self, input: &RouteInput<'_>) -> Option<Arc<str>> {
        #[cfg(feature = "axum")]
        {
            input.extensions.get::<axum::extract::MatchedPath>().map(|p| Arc::from(p.as_str()))
        }
        #[cfg(not(feature = "axum"))]
        {
            let _ = input;
            None
        }
    }
}
