//! An in-process Spin host: serves the component `spin.toml` names over real HTTP on
//! 127.0.0.1, on wasmtime + wasmtime-wasi-http (the engine Spin embeds), with the Spin
//! interfaces the component imports (`fermyon:spin/variables@2.0.0`) answered from a
//! `settings` value, one instance per request as Spin does.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

mod spin_world {
    wasmtime::component::bindgen!({
        inline: "
            package fermyon:spin@2.0.0;
            interface variables {
                get: func(name: string) -> result<string, error>;
                variant error {
                    invalid-name(string),
                    undefined(string),
                    provider(string),
                    other(string),
                }
            }
            world host {
                import variables;
            }
        ",
    });
}
use spin_world::fermyon::spin::variables;

/// The component file `spin.toml` names for the `resource-limits` component.
pub fn component_path() -> PathBuf {
    let root = crate::repo_root();
    let manifest = std::fs::read_to_string(root.join("spin.toml")).expect("spin.toml");
    let doc: toml::Table = manifest.parse().expect("spin.toml is TOML");
    let source = doc["component"]["resource-limits"]["source"]
        .as_str()
        .expect("component.resource-limits.source");
    root.join(source)
}

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: NoOutbound,
    variables: Variables,
    limits: wasmtime::StoreLimits,
}

/// The application variables, changeable between requests (the tests run many settings).
type Variables = Arc<std::sync::RwLock<Vec<(String, String)>>>;

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// The component's outbound HTTP: none (`allowed_outbound_hosts = []`), so every outgoing
/// request is denied, as Spin denies it.
struct NoOutbound;

impl wasmtime_wasi_http::WasiHttpHooks for NoOutbound {
    #[allow(clippy::type_complexity)]
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<
                            dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                                + Send,
                        >,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

impl variables::Host for State {
    fn get(&mut self, name: String) -> Result<String, variables::Error> {
        let vars = self
            .variables
            .read()
            .map_err(|e| variables::Error::Other(e.to_string()))?;
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .ok_or(variables::Error::Undefined(name))
    }
}

/// A running host; stopped on drop.
pub struct SpinHost {
    /// Where the server listens (127.0.0.1).
    pub addr: SocketAddr,
    variables: Variables,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SpinHost {
    /// Serves the component with the `settings` variable set (`None`: its default `{}`).
    pub fn start(component: &std::path::Path, settings: Option<&str>) -> SpinHost {
        let engine = Engine::new(&Config::new()).expect("engine");
        let component = Component::from_file(&engine, component).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: build it with `spin build` or make spin",
                component.display()
            )
        });
        let mut linker: Linker<State> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("wasi-http");
        variables::add_to_linker::<State, wasmtime::component::HasSelf<State>>(&mut linker, |s| s)
            .expect("spin variables");
        let pre = ProxyPre::new(
            linker
                .instantiate_pre(&component)
                .expect("the component links"),
        )
        .expect("the component exports wasi:http/incoming-handler");
        let variables: Variables = Arc::new(std::sync::RwLock::new(vec![(
            "settings".to_owned(),
            settings.unwrap_or("{}").to_owned(),
        )]));
        let vars = variables.clone();

        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback port");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        accepted = listener.accept() => {
                            let Ok((client, _)) = accepted else { continue };
                            let _ = client.set_nodelay(false);
                            let (pre, vars) = (pre.clone(), vars.clone());
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    let (pre, vars) = (pre.clone(), vars.clone());
                                    async move { handle(pre, vars, req).await }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .keep_alive(true)
                                    .serve_connection(wasmtime_wasi_http::io::TokioIo::new(client), service)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        SpinHost {
            addr,
            variables,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Sets the `settings` variable for the requests that follow.
    pub fn set_settings(&self, settings: &str) {
        if let Ok(mut v) = self.variables.write() {
            v.retain(|(k, _)| k != "settings");
            v.push(("settings".to_owned(), settings.to_owned()));
        }
    }

    /// One HTTP/1.1 request on a fresh connection: (status, headers lowercased, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        http_request(self.addr, method, path, body)
    }
}

impl Drop for SpinHost {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn handle(
    pre: ProxyPre<State>,
    vars: Variables,
    req: hyper::Request<hyper::body::Incoming>,
) -> wasmtime::Result<hyper::Response<HyperOutgoingBody>> {
    let mut store = Store::new(
        pre.engine(),
        State {
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: NoOutbound,
            variables: vars,
            // Memory is capped: a request that needs more traps, and its test fails.
            limits: wasmtime::StoreLimitsBuilder::new()
                .memory_size(crate::MAX_GUEST_MEMORY)
                .build(),
        },
    );
    store.limiter(|s| &mut s.limits);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let req = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let out = store.data_mut().http().new_response_outparam(sender)?;
    let task = tokio::task::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(store, req, out)
            .await
    });
    match receiver.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => match task.await {
            Ok(Ok(())) => wasmtime::bail!("the component never set a response"),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(e.into()),
        },
    }
}

/// One POST whose body is sent `transfer-encoding: chunked`, without a `content-length`, as
/// `chunks`, each written after a pause (so the server gets them one by one): (status,
/// body).
pub fn http_post_chunked(addr: SocketAddr, path: &str, chunks: &[&[u8]]) -> (u16, Vec<u8>) {
    let mut s = connect(addr);
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("write head");
    // A server may answer (413) before reading the whole body, and close: ignore write errors.
    for chunk in chunks {
        let _ = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = s.write_all(chunk);
        let _ = s.write_all(b"\r\n");
        let _ = s.flush();
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let (status, _, body) = read_response(s);
    (status, body)
}

/// A minimal HTTP/1.1 client over std (one request, `Connection: close`).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = connect(addr);
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write head");
    // A server may answer (413) before reading a large body, and close: ignore write errors.
    let _ = s.write_all(body);
    read_response(s)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s
}

/// The response, read to the end of the connection: (status, headers lowercased, body; a
/// chunked body joined).
fn read_response(mut s: TcpStream) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    (status, headers, body)
}

/// A chunked body, joined.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || raw.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[(eol + 4 + size).min(raw.len())..];
    }
    out
}
