//! Listeners, the accept loop, per-connection HTTP/1.1 with timeouts, the
//! per-request wrapper (request id, deadline, the one log line), the hint
//! about a proxy that is not trusted, and the graceful drain.
//!
//! [`serve`] takes already-bound listeners and a shutdown future, so tests
//! bind `127.0.0.1:0` and stop their own server.

use std::convert::Infallible;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Method;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, HeaderValue, PRAGMA, X_CONTENT_TYPE_OPTIONS};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::api::health;
use crate::app::App;
use crate::cors;
use crate::error::Error;
use crate::http::{Request, Response};
use crate::router::{self, Listener, Route};

/// Largest request head (request line + headers) a client may send; larger
/// ones get `431` from hyper before any handler runs. Set as both hyper's
/// `max_header_size` (checked on every head, however it arrived) and its
/// `max_buf_size`: the buffer bound alone is only checked while a head is
/// incomplete, so a head that arrived in one large read could reach twice
/// the bound.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves the public and admin listeners until `shutdown` resolves, then
/// drains: `/readyz` turns 503, the listeners close, and in-flight requests
/// get `shutdown_grace` to finish.
pub async fn serve(
    app: App,
    public: TcpListener,
    admin: TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    // Each timeout bounds one connection; this bounds how many are open at
    // once (file descriptors, buffers, tasks). The admin listener is not
    // counted, so probes and scrapes always get through.
    let connections = Arc::new(Semaphore::new(app.config.max_connections));
    loop {
        let (accepted, listener) = tokio::select! {
            accepted = public.accept() => (accepted, Listener::Public),
            accepted = admin.accept() => (accepted, Listener::Admin),
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let permit = match listener {
                    Listener::Admin => None,
                    Listener::Public => match Arc::clone(&connections).try_acquire_owned() {
                        Ok(permit) => Some(permit),
                        Err(_) => {
                            // Full: close at once rather than queue unbounded work.
                            tracing::warn!(%peer, "connection limit reached: closing a new connection");
                            continue;
                        }
                    },
                };
                spawn_connection(&app, &graceful, stream, peer, listener, permit)
            }
            Err(e) => {
                // Usually EMFILE: back off instead of spinning or exiting.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    app.start_draining();
    drop((public, admin));
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("drained"),
        () = tokio::time::sleep(app.config.shutdown_grace) => {
            tracing::warn!("shutdown grace elapsed with requests still in flight");
        }
    }
}

fn spawn_connection(
    app: &App,
    graceful: &GracefulShutdown,
    stream: TcpStream,
    peer: SocketAddr,
    listener: Listener,
    permit: Option<OwnedSemaphorePermit>,
) {
    // Responses are small and written at once; don't let Nagle delay them.
    let _ = stream.set_nodelay(true);
    let service_app = app.clone();
    let service = service_fn(move |req| {
        let app = service_app.clone();
        async move { Ok::<_, Infallible>(handle(&app, listener, req, peer).await) }
    });
    // Idle keep-alive connections need nothing extra: hyper restarts the
    // header read timeout whenever it waits for the next request head. A
    // client that stops *reading* (its answers pile up until the socket
    // buffers are full) is what no hyper timer covers; `WriteStall` does.
    let io = WriteStall::new(stream, app.config.request_timeout);
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(app.config.header_read_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), service);
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        // The connection's slot is free once it is closed.
        drop(permit);
    });
}

/// A connection's socket whose writes may stay blocked for at most `limit`
/// in a row: a client that stops reading its responses (the "slow read"
/// variant of slowloris) would otherwise hold the connection, its buffers
/// and its task forever, since hyper only times out reading a head. When a
/// write has made no progress for `limit` it fails with `TimedOut` and
/// hyper drops the connection. Any progress resets the clock.
struct WriteStall<T> {
    inner: T,
    limit: Duration,
    stalled_since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> WriteStall<T> {
    fn new(inner: T, limit: Duration) -> WriteStall<T> {
        WriteStall {
            inner,
            limit,
            stalled_since: None,
        }
    }

    /// Maps one poll of a write-side operation: progress clears the clock,
    /// `Pending` starts it (or lets it run), and a clock that ran out turns
    /// `Pending` into an error.
    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.stalled_since = None;
            return poll;
        }
        let limit = self.limit;
        let deadline = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client has not read its response",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteStall<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteStall<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, poll)
    }
}

/// The caller's `X-Request-Id` when it is short and printable, else a new
/// one: a random per-process prefix and a counter, unique across replicas
/// and cheaper than a random id per request.
fn request_id(req: &hyper::Request<Incoming>) -> HeaderValue {
    static PREFIX: LazyLock<String> = LazyLock::new(|| Uuid::new_v4().simple().to_string());
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    req.headers()
        .get("x-request-id")
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            HeaderValue::from_str(&format!("{}-{n:x}", &PREFIX[..16]))
                .unwrap_or(HeaderValue::from_static("-"))
        })
}

/// Headers every answer carries: `X-Content-Type-Options: nosniff` (a
/// browser never reinterprets a JSON or text body as something it would
/// run), and on the routes that hand out tokens or secrets
/// `Cache-Control: no-store` (with `Pragma: no-cache` for HTTP/1.0 caches).
fn hygiene_headers(response: &mut Response, route: Option<Route>) {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if route.is_some_and(Route::no_store) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    }
}

/// Whether the sign-in portal's pages are served.
fn portal_enabled(app: &App) -> bool {
    app.config.portal
}

/// One request: route, read the body, run the handler under the request
/// deadline, map errors, tag with the request id, log one line.
async fn handle(
    app: &App,
    listener: Listener,
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Response {
    let started = crate::clock::instant();
    if listener == Listener::Public
        && app.config.trusted_proxies.is_empty()
        && app.proxy_hint.observe(peer.ip())
    {
        tracing::warn!(
            peer = %peer.ip(),
            requests = ProxyHint::STREAK,
            "every recent request came from one private or loopback address and \
             EDGEAUTH_TRUSTED_PROXIES is unset: if that is a proxy or ingress, all clients \
             share its per-IP rate limits; set EDGEAUTH_TRUSTED_PROXIES to its addresses"
        );
    }
    let method = req.method().clone();
    let request_id = request_id(&req);
    let origin = cors::allowed_origin(&app.config.cors_origins, req.headers());
    let path = req.uri().path();
    let portal_route = portal_enabled(app)
        .then(|| router::resolve_portal(listener, &method, path))
        .flatten();
    let portal = portal_route.is_some();
    let route = portal_route
        .unwrap_or_else(|| router::resolve_with(listener, &method, path, app.config.hbp_compat));
    // Without admin tokens the admin API does not exist: 404 for every path under it, whatever
    // the method.
    let route = match route {
        Err(Error::MethodNotAllowed { .. }) | Ok(_)
            if app.admin_tokens.is_empty() && path.starts_with(crate::api::admin::ADMIN_PREFIX) =>
        {
            Err(Error::NotFound)
        }
        route => route,
    };
    let route_kind = route.as_ref().ok().copied();
    let template = match &route {
        Ok(route) => route.template(),
        Err(Error::MethodNotAllowed { .. }) if method == Method::OPTIONS => "preflight",
        Err(Error::MethodNotAllowed { .. }) if portal => router::PORTAL_ROUTES
            .iter()
            .find(|s| s.path == path)
            .map_or("unmatched", |s| s.path),
        // A known path with another method: the path is a template, so it labels the 405.
        Err(Error::MethodNotAllowed { .. }) => {
            router::template_of(listener, req.uri().path(), app.config.hbp_compat)
                .unwrap_or("unmatched")
        }
        Err(_) => "unmatched",
    };
    let result = match route {
        Err(Error::MethodNotAllowed { allow }) if method == Method::OPTIONS => {
            Ok(cors::preflight(allow))
        }
        Err(e) => Err(e),
        // Liveness touches nothing and reads no body: answer it at once.
        Ok(Route::Healthz) => Ok(health::healthz()),
        Ok(route) => {
            let work = async {
                let req = Request::read(req, peer).await?;
                router::dispatch(app, route, &req).await
            };
            tokio::time::timeout(app.config.request_timeout, work)
                .await
                .unwrap_or_else(|_| Err(Error::Unavailable("request deadline passed".into())))
        }
    };
    // The portal answers its errors with HTML pages, everything else with JSON.
    let mut response = result.unwrap_or_else(|e| {
        if portal {
            crate::portal::error_response(app, e)
        } else {
            e.into_response()
        }
    });
    if let Some(origin) = origin {
        cors::decorate(&mut response, origin);
    }
    hygiene_headers(&mut response, route_kind);
    let elapsed = started.elapsed();
    app.metrics
        .observe_request(template, &method, response.status(), elapsed);
    let status = response.status().as_u16();
    let duration_ms = (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    let request_id_text = request_id.to_str().unwrap_or("-");
    // Kubelet and load-balancer probes would otherwise be most of the log:
    // successful probes log at debug, everything else at info.
    if matches!(route_kind, Some(Route::Healthz | Route::Readyz)) && status == 200 {
        tracing::debug!(method = %method, route = template, status, duration_ms, request_id = request_id_text, "request");
    } else {
        tracing::info!(method = %method, route = template, status, duration_ms, request_id = request_id_text, "request");
    }
    response.headers_mut().insert("x-request-id", request_id);
    response
}

/// Notices a proxy nobody said to trust: with `EDGEAUTH_TRUSTED_PROXIES`
/// unset, a reverse proxy or ingress controller in front makes every request
/// come from its own address, so all clients share one per-IP rate-limit
/// budget. Start-up cannot see that; the traffic can. The rule: the first
/// time [`Self::STREAK`] consecutive public requests came from one private or
/// loopback address, say so once. A server facing clients directly sees
/// public addresses, or private ones that change. Three atomics and no lock:
/// after the warning every request pays one load; concurrent requests may
/// interleave their updates, which only shifts when the hint comes.
pub(crate) struct ProxyHint {
    /// The previous request's address, folded to 64 bits (0: none yet or
    /// not private).
    last: AtomicU64,
    /// How many requests in a row came from `last`.
    streak: AtomicU32,
    warned: AtomicBool,
}

impl ProxyHint {
    const STREAK: u32 = 100;

    pub(crate) const fn new() -> Self {
        ProxyHint {
            last: AtomicU64::new(0),
            streak: AtomicU32::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// Counts one request from `peer`; true exactly once, on the request
    /// that completes the streak.
    fn observe(&self, peer: IpAddr) -> bool {
        if self.warned.load(Ordering::Relaxed) {
            return false;
        }
        let key = match peer.to_canonical() {
            IpAddr::V4(ip) if ip.is_private() || ip.is_loopback() => {
                u64::from(ip.to_bits()) | 1 << 32
            }
            // Loopback and unique local addresses (fc00::/7).
            IpAddr::V6(ip) if ip.is_loopback() || ip.segments()[0] & 0xfe00 == 0xfc00 => {
                let bits = ip.to_bits();
                ((bits >> 64) as u64 ^ bits as u64) | 1 << 63
            }
            _ => 0,
        };
        let streak = if key == 0 {
            // A public client breaks any streak. Written only when there is one
            // to break: a server facing clients directly would otherwise write
            // this shared word on every request, from every core.
            if self.last.load(Ordering::Relaxed) != 0 {
                self.last.store(0, Ordering::Relaxed);
            }
            0
        } else if self.last.swap(key, Ordering::Relaxed) == key {
            self.streak
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1)
        } else {
            self.streak.store(1, Ordering::Relaxed);
            1
        };
        streak >= Self::STREAK && !self.warned.swap(true, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::ProxyHint;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn count_until_hint(hint: &ProxyHint, peers: &[&str], rounds: usize) -> Option<usize> {
        (1..=rounds).find(|&n| hint.observe(ip(peers[(n - 1) % peers.len()])))
    }

    #[test]
    fn one_private_address_in_a_row_warns_once_at_the_streak() {
        for peer in [
            "10.1.2.3",
            "192.168.0.7",
            "127.0.0.1",
            "::1",
            "fd00::5",
            "::ffff:172.16.0.9",
        ] {
            let hint = ProxyHint::new();
            assert_eq!(
                count_until_hint(&hint, &[peer], 1000),
                Some(ProxyHint::STREAK as usize),
                "{peer}"
            );
            assert_eq!(
                count_until_hint(&hint, &[peer], 1000),
                None,
                "{peer}: a second warning"
            );
        }
    }

    #[test]
    fn public_or_changing_addresses_never_warn() {
        let hint = ProxyHint::new();
        assert_eq!(count_until_hint(&hint, &["203.0.113.9"], 1000), None);
        assert_eq!(count_until_hint(&hint, &["2001:db8::1"], 1000), None);
        // Private clients, but not one alone: a direct deployment on a LAN.
        assert_eq!(
            count_until_hint(&hint, &["10.0.0.1", "10.0.0.2"], 1000),
            None
        );
        // A streak broken just before the end starts again from one.
        let mut peers = vec!["10.9.9.9"; ProxyHint::STREAK as usize - 1];
        peers.push("203.0.113.9");
        assert_eq!(count_until_hint(&hint, &peers, 10 * peers.len()), None);
    }

    #[test]
    fn concurrent_requests_warn_at_most_once() {
        let hint = ProxyHint::new();
        let warnings: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..1000).filter(|_| hint.observe(ip("10.0.0.1"))).count()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(warnings, 1);
    }
}
