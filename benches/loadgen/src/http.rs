//! One HTTP/1.1 keep-alive connection per worker (hyper 1, client `conn`
//! API): a worker owns exactly one TCP connection, so `--connections N`
//! means N sockets at the server. A failed connection is dropped and opened
//! again on the next request (counted as a reconnect).

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Where the load goes. Only loopback addresses are accepted.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port` for the Host header.
    pub authority: String,
}

impl Target {
    pub fn parse(url: &str) -> anyhow::Result<Arc<Self>> {
        let rest = url
            .strip_prefix("http://")
            .context("the server URL must start with http://")?;
        let authority = rest.split('/').next().unwrap_or_default().to_owned();
        if authority.is_empty() {
            anyhow::bail!("the server URL has no host");
        }
        let addr = authority
            .to_socket_addrs()
            .with_context(|| format!("resolving {authority}"))?
            .find(|a| is_loopback(a.ip()))
            .with_context(|| {
                format!("{authority} is not a loopback address: load is only sent to this machine")
            })?;
        Ok(Arc::new(Self { addr, authority }))
    }

    /// `ws://host:port{path}`
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.authority)
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// A finished exchange.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub struct Conn {
    target: Arc<Target>,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
    pub connects: u64,
}

impl Conn {
    pub fn new(target: Arc<Target>) -> anyhow::Result<Self> {
        let host = HeaderValue::from_str(&target.authority).context("bad Host header")?;
        Ok(Self {
            target,
            host,
            sender: None,
            connects: 0,
        })
    }

    /// Opens the TCP connection now (otherwise the first request does).
    pub async fn connect(&mut self) -> anyhow::Result<()> {
        let stream = TcpStream::connect(self.target.addr)
            .await
            .with_context(|| format!("connecting to {}", self.target.addr))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            // Ends when the server or the worker closes the connection; the
            // next request notices and reconnects.
            let _ = connection.await;
        });
        self.sender = Some(sender);
        self.connects += 1;
        Ok(())
    }

    pub fn is_open(&self) -> bool {
        self.sender.as_ref().is_some_and(|s| !s.is_closed())
    }

    /// Forgets the connection (after a timeout its state is unknown).
    pub fn reset(&mut self) {
        self.sender = None;
    }

    /// One request; any transport failure drops the connection.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Bytes>,
    ) -> anyhow::Result<Response> {
        let result = self.exchange(method, path, token, body).await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    /// Like `request`, bounded by `limit` (a timeout is an error).
    pub async fn request_within(
        &mut self,
        limit: Duration,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Bytes>,
    ) -> anyhow::Result<Response> {
        match tokio::time::timeout(limit, self.request(method, path, token, body)).await {
            Ok(r) => r,
            Err(_) => {
                self.reset();
                anyhow::bail!("timeout after {} ms", limit.as_millis())
            }
        }
    }

    async fn exchange(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Bytes>,
    ) -> anyhow::Result<Response> {
        if !self.is_open() {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().context("no connection")?;
        sender.ready().await.context("connection not ready")?;

        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .context("building the request")?;
        let resp = sender.send_request(req).await.map_err(classify)?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .context("reading the response body")?
            .to_bytes();
        Ok(Response { status, body })
    }
}

fn classify(e: hyper::Error) -> anyhow::Error {
    if e.is_closed() || e.is_incomplete_message() {
        anyhow::anyhow!("connection closed by the server: {e}")
    } else {
        anyhow::anyhow!("HTTP error: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert!(Target::parse("http://127.0.0.1:18090").is_ok());
        assert!(Target::parse("http://127.0.0.1:18090/").is_ok());
        assert!(Target::parse("http://10.0.0.1:80").is_err());
        assert!(Target::parse("https://127.0.0.1:1").is_err());
    }
}
