//! Micro benchmarks of the request path before any I/O: routing a path and
//! decoding a login body (content-type check, object check, serde).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use edgeauth::api::account::Credentials;
use edgeauth::http::Request;
use edgeauth::router::{Listener, resolve};
use hyper::Method;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

fn routing(c: &mut Criterion) {
    c.bench_function("route_login", |b| {
        b.iter(|| resolve(Listener::Public, &Method::POST, black_box("/auth/login")).unwrap())
    });
    c.bench_function("route_unknown", |b| {
        b.iter(|| resolve(Listener::Public, &Method::GET, black_box("/no/such/path")).is_err())
    });
}

fn login_body(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    let request = Request {
        method: Method::POST,
        path: "/auth/login".into(),
        query: None,
        headers,
        body: Bytes::from_static(
            br#"{"email":"ada@example.com","password":"correct horse battery staple"}"#,
        ),
        peer: "127.0.0.1:4000".parse().unwrap(),
    };
    c.bench_function("decode_login_body", |b| {
        b.iter(|| black_box(&request).json::<Credentials>().unwrap())
    });
}

criterion_group!(benches, routing, login_body);
criterion_main!(benches);
