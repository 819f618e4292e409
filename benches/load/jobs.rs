//! What a connection sends in each scenario.

use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::client::{Job, Reply, Req, get, get_with_cookie, post_json};

/// The password of every account the benchmark makes.
pub const PASSWORD: &str = "load-bench password 1";

/// The same GET over and over (healthz, jwks, hello, verify with one token).
pub struct Fixed {
    pub path: &'static str,
    pub bearer: Option<Arc<str>>,
    pub expect: u16,
}

impl Job for Fixed {
    fn next(&mut self) -> (usize, Req) {
        (0, get(self.path, self.bearer.as_deref()))
    }
    fn check(&mut self, _: usize, reply: &Reply) -> bool {
        reply.status == self.expect
    }
}

/// `GET /auth/verify`, walking a shared list of distinct tokens from this
/// connection's own offset.
pub struct VerifyMany {
    pub tokens: Arc<Vec<String>>,
    pub next: usize,
}

impl VerifyMany {
    pub fn new(tokens: Arc<Vec<String>>, connection: usize, connections: usize) -> VerifyMany {
        let next = connection * tokens.len() / connections.max(1);
        VerifyMany { tokens, next }
    }
}

impl Job for VerifyMany {
    fn next(&mut self) -> (usize, Req) {
        let token = &self.tokens[self.next % self.tokens.len()];
        self.next += 1;
        (0, get("/auth/verify", Some(token)))
    }
    fn check(&mut self, _: usize, reply: &Reply) -> bool {
        reply.status == 200
    }
}

/// `GET /auth/verify` with an edge session cookie (`name=value` strings),
/// walking a shared list from this connection's own offset (one entry: the
/// same session over and over).
pub struct VerifyCookies {
    pub cookies: Arc<Vec<String>>,
    pub next: usize,
}

impl VerifyCookies {
    pub fn new(cookies: Arc<Vec<String>>, connection: usize, connections: usize) -> VerifyCookies {
        let next = connection * cookies.len() / connections.max(1);
        VerifyCookies { cookies, next }
    }
}

impl Job for VerifyCookies {
    fn next(&mut self) -> (usize, Req) {
        let cookie = &self.cookies[self.next % self.cookies.len()];
        self.next += 1;
        (0, get_with_cookie("/auth/verify", cookie))
    }
    fn check(&mut self, _: usize, reply: &Reply) -> bool {
        reply.status == 200
    }
}

/// Refresh-token chains shared between scenarios: each slot holds the latest
/// token of one family. A [`Refresh`] job takes some slots, follows their
/// chains and puts the latest tokens back when it is dropped.
pub type Chains = Arc<Vec<Mutex<String>>>;

pub fn chains(tokens: Vec<String>) -> Chains {
    Arc::new(tokens.into_iter().map(Mutex::new).collect())
}

/// `POST /auth/token/refresh` with `{"refresh_token": …}`: each request
/// presents the token the previous refresh of that chain returned. A
/// connection with several chains takes them in turn.
pub struct Refresh {
    store: Chains,
    slots: Vec<usize>,
    tokens: Vec<String>,
    turn: usize,
}

impl Refresh {
    /// Connection `connection` of `connections` takes every slot congruent
    /// to it.
    pub fn new(store: &Chains, connection: usize, connections: usize) -> Refresh {
        let slots: Vec<usize> = (connection..store.len()).step_by(connections).collect();
        assert!(!slots.is_empty(), "fewer chains than connections");
        let tokens = slots
            .iter()
            .map(|i| store[*i].lock().expect("chain").clone())
            .collect();
        Refresh {
            store: store.clone(),
            slots,
            tokens,
            turn: 0,
        }
    }
}

impl Job for Refresh {
    fn next(&mut self) -> (usize, Req) {
        let body = json!({ "refresh_token": self.tokens[self.turn] }).to_string();
        (0, post_json("/auth/token/refresh", body))
    }
    fn check(&mut self, _: usize, reply: &Reply) -> bool {
        let next = (reply.status == 200)
            .then(|| reply.field("refresh_token"))
            .flatten();
        let ok = next.is_some();
        if let Some(token) = next {
            self.tokens[self.turn] = token;
        }
        self.turn = (self.turn + 1) % self.tokens.len();
        ok
    }
}

impl Drop for Refresh {
    fn drop(&mut self) {
        for (slot, token) in self.slots.iter().zip(&self.tokens) {
            if let Ok(mut stored) = self.store[*slot].lock() {
                stored.clone_from(token);
            }
        }
    }
}

/// `POST /auth/login` of one account, over and over (a new session each time).
pub struct Login {
    pub body: String,
}

impl Login {
    pub fn new(email: &str) -> Login {
        Login {
            body: json!({ "email": email, "password": PASSWORD }).to_string(),
        }
    }
}

impl Job for Login {
    fn next(&mut self) -> (usize, Req) {
        (0, post_json("/auth/login", self.body.clone()))
    }
    fn check(&mut self, _: usize, reply: &Reply) -> bool {
        reply.status == 200
    }
}

/// `POST /auth/register` of a new email each time.
pub struct Register {
    pub prefix: String,
    pub n: u64,
}

impl Job for Register {
    fn next(&mut self) -> (usize, Req) {
        self.n += 1;
        let email = format!("{}-{}@bench.example", self.prefix, self.n);
        let body = json!({ "email": email, "password": PASSWORD }).to_string();
        (0, post_json("/auth/register", body))
    }
    fn check(&mut self, _: usize, reply: &Reply) -> bool {
        reply.status == 204
    }
}

/// A weighted mix of single-kind jobs; kind i is part i.
pub struct Mix {
    parts: Vec<(u32, Box<dyn Job>)>,
    total: u32,
    rng: u64,
}

impl Mix {
    pub fn new(parts: Vec<(u32, Box<dyn Job>)>, seed: u64) -> Mix {
        let total = parts.iter().map(|(w, _)| w).sum();
        Mix {
            parts,
            total,
            // xorshift must not start at 0.
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    fn roll(&mut self) -> u32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % u64::from(self.total)) as u32
    }
}

impl Job for Mix {
    fn next(&mut self) -> (usize, Req) {
        let mut roll = self.roll();
        let mut kind = 0;
        for (i, (weight, _)) in self.parts.iter().enumerate() {
            if roll < *weight {
                kind = i;
                break;
            }
            roll -= weight;
        }
        let (_, req) = self.parts[kind].1.next();
        (kind, req)
    }
    fn check(&mut self, kind: usize, reply: &Reply) -> bool {
        self.parts[kind].1.check(0, reply)
    }
}
