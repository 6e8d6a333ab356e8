//! Two gates in front of everything: the `Host` a request names must be one of this site's
//! (a page of another name resolving to this server, DNS rebinding, is refused before any
//! session or Origin check trusts that name), and at most so many requests are served at
//! once (more wait a moment, then get 503) so that a flood queues at the door rather than
//! in the database pool. Live streams are counted apart: they last, and have their own cap.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// The host names this site answers to. IP addresses are always accepted (a rebinding
/// attack needs a name), and so is `localhost`.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    /// `names` (from `PROMPTLY_ALLOWED_HOSTS`), and the host of the public URL.
    pub fn new(names: &[String], public_url: Option<&str>) -> Self {
        let mut hosts: Vec<String> = names
            .iter()
            .map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        if let Some(host) = public_url
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        {
            hosts.push(host);
        }
        AllowedHosts(hosts)
    }

    /// Whether `authority` (a `Host` header: a name or address, maybe with a port) is ours.
    pub fn admits(&self, authority: &str) -> bool {
        let Ok(parsed) = url::Url::parse(&format!("http://{authority}/")) else {
            return false;
        };
        match parsed.host() {
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => true,
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                name == "localhost" || self.0.iter().any(|h| h == name)
            }
            None => false,
        }
    }
}

/// Refuses a request whose `Host` is not this site's (400, with what to configure).
pub async fn hosts(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if state.allowed_hosts.admits(&h) => next.run(req).await,
        other => {
            tracing::warn!(host = ?other, "refused a request for a host this site does not answer to");
            (
                StatusCode::BAD_REQUEST,
                "This server does not answer to that host name. Its admin can add it to \
                 PROMPTLY_ALLOWED_HOSTS (or set PROMPTLY_PUBLIC_URL).",
            )
                .into_response()
        }
    }
}

/// How long a request waits for a turn before it is told to come back (503).
pub const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// Serves at most `state.in_flight`'s permits of requests at once, and at most
/// `state.streams`' live streams; a request that finds no turn within [`QUEUE_WAIT`] (a
/// stream: at once) gets 503 with `Retry-After`.
pub async fn concurrency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path() == super::stream::PATH {
        return match state.streams.clone().try_acquire_owned() {
            Ok(permit) => {
                let open = state.metrics.stream_opened();
                held_by_body(next.run(req).await, (permit, open))
            }
            Err(_) => busy("Too many live streams are open; try again shortly."),
        };
    }
    match tokio::time::timeout(QUEUE_WAIT, state.in_flight.clone().acquire_owned()).await {
        Ok(Ok(_turn)) => next.run(req).await,
        _ => busy("The server is busy; try again shortly."),
    }
}

/// Keeps `permit` (the stream's turn and its place in `/metrics`' count) with the response's
/// body, so that it is released when the body ends (the stream closes), not when the headers
/// are sent. Fused: a layer above (compression) may poll a body again after its end, which
/// an unfused `unfold` answers with a panic.
fn held_by_body(
    resp: Response,
    permit: (
        tokio::sync::OwnedSemaphorePermit,
        crate::metrics::OpenStream,
    ),
) -> Response {
    use futures::StreamExt;
    let (parts, body) = resp.into_parts();
    let body =
        axum::body::Body::from_stream(
            futures::stream::unfold(
                (body.into_data_stream(), permit),
                |(mut data, permit)| async move {
                    data.next().await.map(|chunk| (chunk, (data, permit)))
                },
            )
            .fuse(),
        );
    Response::from_parts(parts, body)
}

fn busy(words: &'static str) -> Response {
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, words).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_we_were_given_or_addresses() {
        let hosts = AllowedHosts::new(
            &["Promptly.Example.com".into(), " ".into()],
            Some("https://support.example.org/x"),
        );
        for ok in [
            "promptly.example.com",
            "promptly.example.com:8443",
            "PROMPTLY.example.com.",
            "support.example.org",
            "localhost:3000",
            "127.0.0.1:3000",
            "[::1]:3000",
            "10.1.2.3",
        ] {
            assert!(hosts.admits(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "promptly.example.com.evil.example",
            "example.com",
            "",
            "a b",
        ] {
            assert!(!hosts.admits(refused), "{refused}");
        }
        assert!(!AllowedHosts::default().admits("rebound.attacker.test"));
    }
}
