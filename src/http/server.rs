//! The server: binds the listener, owns the accept loop, and shuts down.
//!
//! We run our own accept loop around `warp::service(routes)` instead of
//! `warp::serve` because warp's loop leaves out three things a small public
//! server needs: `TCP_NODELAY` (without it small responses wait for Nagle's
//! algorithm), a header-read timeout (hyper only enforces it with a timer,
//! which `warp::serve` does not install, so a client that never finishes its
//! headers would hold a connection forever) and a cap on open connections
//! (at the cap we stop accepting until one closes).
//!
//! Shutdown (when the future given to [`Server::run`] completes, or on
//! [`RunningServer::shutdown`]; the binary's Ctrl-C/SIGTERM handling is in
//! `ops::serve`): stop accepting, let in-flight requests finish, close idle
//! keep-alive connections, close WebSockets with 1001, commit every queued
//! message, and return once every connection is done (bounded by
//! [`DRAIN_TIMEOUT`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use warp::http::Request;

use crate::app::App;
use crate::config::Config;
use crate::http::cache::Pages;
use crate::http::routes;

/// The largest request head (request line and headers) we read.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// How long shutdown waits for open connections to finish.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The address of the client, put into each request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// hyper's handle to an upgraded connection, taken out of a request that
/// asks for an upgrade so a route can finish the WebSocket handshake itself
/// (warp keeps its own way to it private). Cloneable, as warp's
/// extension filters need; the first taker gets it.
#[derive(Debug, Clone)]
pub struct UpgradeSlot(Arc<std::sync::Mutex<Option<hyper::upgrade::OnUpgrade>>>);

impl UpgradeSlot {
    pub fn take(&self) -> Option<hyper::upgrade::OnUpgrade> {
        match self.0.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    /// The edge's cache of rendered pages (see `http::cache`).
    pages: Arc<Pages>,
}

impl Server {
    /// Binds `config.addr` and opens the data directory.
    pub async fn bind(mut config: Config) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        // With port 0 the system picked one; links must use the real one.
        config.addr = listener.local_addr()?;
        let app = tokio::task::spawn_blocking(move || App::open(config)).await??;
        let pages = Arc::new(Pages::new(app.db.versions().clone()));
        Ok(Server {
            listener,
            app,
            pages,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.app.config.addr
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Serves until `shutdown` completes, then drains open connections.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Server {
            listener,
            app,
            pages,
        } = self;
        let max_connections = app.config.max_connections;
        let slots = Arc::new(Semaphore::new(max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let service = warp::service(routes::routes(app.clone(), pages));
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(app.config.header_read_timeout)
            // Larger request heads get 431; hyper also caps them at 100 headers.
            .max_header_size(MAX_HEADER_BYTES);

        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot?,
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually out of file descriptors: back off briefly
                        // instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
            let service = service.clone();
            let app_for_requests = app.clone();
            let handler =
                hyper::service::service_fn(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(ClientAddr(peer));
                    if request.headers().contains_key(warp::http::header::UPGRADE) {
                        let on_upgrade = hyper::upgrade::on(&mut request);
                        request.extensions_mut().insert(UpgradeSlot(Arc::new(
                            std::sync::Mutex::new(Some(on_upgrade)),
                        )));
                    }
                    let mut service = service.clone();
                    let app = app_for_requests.clone();
                    async move { Ok::<_, Infallible>(handle(&app, &mut service, request).await) }
                });
            let connection = http
                .serve_connection(TokioIo::new(stream), handler)
                .with_upgrades();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                tokio::pin!(connection);
                let result = tokio::select! {
                    result = connection.as_mut() => result,
                    _ = async { stop.wait_for(|stopped| *stopped).await.map(|_| ()) } => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                drop(slot);
            });
        }

        drop(listener);
        let _ = stop_tx.send(true);
        // Sockets close with 1001; once their readers are done, nothing new
        // reaches the writer, and the flush commits whatever is queued.
        app.live.hub.shut_down();
        if !app.live.hub.wait_empty(DRAIN_TIMEOUT).await {
            tracing::warn!("sockets still open after {DRAIN_TIMEOUT:?}");
        }
        app.live.writer.flush().await;
        let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(DRAIN_TIMEOUT, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; stopping anyway");
        }
        Ok(())
    }

    /// Runs in a background task; the handle stops it.
    pub fn spawn(self) -> RunningServer {
        let addr = self.local_addr();
        let app = self.app.clone();
        let pages = self.pages.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.run(async move {
            let _ = rx.await;
        }));
        RunningServer {
            addr,
            app,
            pages,
            stop: Some(tx),
            task,
        }
    }
}

/// What every request goes through around the routes: CORS preflights,
/// security headers on every answer, and one log line per request: method,
/// path (never the query, which may carry a token), status and duration.
async fn handle<S>(app: &App, service: &mut S, request: Request<Incoming>) -> warp::reply::Response
where
    S: tower_service::Service<
        Request<Incoming>,
        Response = warp::reply::Response,
        Error = Infallible,
    >,
{
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let cors_origins = &app.config.cors_origins;
    let mut response = match crate::http::cors::preflight(&method, request.headers(), cors_origins)
    {
        Some(preflight) => preflight,
        None => {
            let origin = request.headers().get(warp::http::header::ORIGIN).cloned();
            let mut response = match service.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if let Some(origin) = origin {
                let mut cors_request = warp::http::HeaderMap::new();
                cors_request.insert(warp::http::header::ORIGIN, origin);
                crate::http::cors::decorate(&mut response, &cors_request, cors_origins);
            }
            response
        }
    };
    security_headers(&mut response);
    app.metrics
        .request(&path, response.status().as_u16(), started.elapsed());
    tracing::info!(
        target: "chatd::http",
        "{method} {path} {} {:.1}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// Headers every answer carries unless its route set its own: no MIME
/// sniffing, no referrer leaking, never framed by another site, and for
/// anything that is not our web page, no scripts at all.
fn security_headers(response: &mut warp::reply::Response) {
    use warp::http::header::{
        HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
        X_FRAME_OPTIONS,
    };
    let headers = response.headers_mut();
    let defaults = [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
        (
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; sandbox",
        ),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

/// A server running in the background (tests start one per case).
pub struct RunningServer {
    addr: SocketAddr,
    app: Arc<App>,
    pages: Arc<Pages>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// The cache of rendered pages (tests check its bound).
    pub fn pages(&self) -> &Arc<Pages> {
        &self.pages
    }

    /// Stops accepting, drains connections and waits for the server to end.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await?
    }
}
