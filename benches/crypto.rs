//! Micro benchmarks of the pure crypto in `edgeauth::auth`: JWT sign/verify (on every login and
//! refresh), refresh-token encode/decode, one scrypt hash at log_n 14 (the per-core budget
//! that sizes the hashing semaphore), and the MFA path: TOTP check and sealing/opening the TOTP
//! secret (once per MFA login). Run with `cargo bench --bench crypto`.

// Setup failures in a bench should stop it loudly, like a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use edgeauth::auth::data_keys::DataKeys;
use edgeauth::auth::jwt::{Claims, JwtKeys, random_jti};
use edgeauth::auth::password::{ScryptCost, hash_password, verify_password};
use edgeauth::auth::refresh::RefreshToken;
use edgeauth::auth::totp::{code_at, generate_secret, matching_step};
use std::hint::black_box;
use uuid::Uuid;

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://auth.example";

fn jwt(c: &mut Criterion) {
    let keys = JwtKeys::ephemeral().unwrap();
    let claims = Claims {
        sub: Uuid::new_v4().to_string(),
        sid: Uuid::new_v4().to_string(),
        jti: random_jti().unwrap(),
        iat: NOW,
        exp: NOW + 900,
        iss: ISS.into(),
        aud: Some("api".into()),
        auth_time: Some(1_700_000_000),
        amr: vec!["pwd".into()],
        hasura: None,
    };
    let token = keys.sign(&claims).unwrap();
    c.bench_function("jwt_sign", |b| {
        b.iter(|| keys.sign(black_box(&claims)).unwrap())
    });
    c.bench_function("jwt_verify", |b| {
        b.iter(|| {
            keys.verify(black_box(&token), NOW, ISS, Some("api"))
                .unwrap()
        })
    });
}

fn refresh(c: &mut Criterion) {
    let keys = DataKeys::ephemeral().unwrap().refresh_keys();
    let t = RefreshToken {
        account_id: Uuid::new_v4(),
        family_id: Uuid::new_v4(),
        generation: 42,
    };
    let s = keys.encode(&t);
    c.bench_function("refresh_encode", |b| b.iter(|| keys.encode(black_box(&t))));
    c.bench_function("refresh_decode", |b| {
        b.iter(|| keys.decode(black_box(&s)).unwrap())
    });
}

fn scrypt(c: &mut Criterion) {
    // The configured cost: the default (OWASP, log_n 17) unless
    // EDGEAUTH_SCRYPT_LOG_N says otherwise, as for the server.
    let log_n = std::env::var("EDGEAUTH_SCRYPT_LOG_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ScryptCost::OWASP.log_n);
    let cost = ScryptCost {
        log_n,
        ..ScryptCost::OWASP
    };
    let phc = hash_password("correct horse battery staple", cost).unwrap();
    let mut group = c.benchmark_group(format!("scrypt_log_n_{log_n}"));
    // ~280 ms and 128 MiB per hash at log_n 17: criterion's minimum sample
    // size keeps the run short.
    group.sample_size(10);
    group.bench_function("hash", |b| {
        b.iter(|| hash_password(black_box("correct horse battery staple"), cost).unwrap())
    });
    group.bench_function("verify", |b| {
        b.iter(|| verify_password(black_box("correct horse battery staple"), &phc))
    });
    group.finish();
}

fn mfa(c: &mut Criterion) {
    let secret = generate_secret().unwrap();
    let code = code_at(&secret, NOW).unwrap();
    // A hit in the last step tried and a miss cost the same three HMACs; bench the miss.
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    c.bench_function("totp_matching_step", |b| {
        b.iter(|| matching_step(black_box(&secret), black_box(&wrong), NOW))
    });
    let sealer = DataKeys::ephemeral().unwrap().totp_sealer();
    let account = Uuid::new_v4().to_string();
    let sealed = sealer.seal(&secret, account.as_bytes()).unwrap();
    c.bench_function("totp_seal", |b| {
        b.iter(|| sealer.seal(black_box(&secret), account.as_bytes()).unwrap())
    });
    c.bench_function("totp_open", |b| {
        b.iter(|| sealer.open(black_box(&sealed), account.as_bytes()).unwrap())
    });
}

criterion_group!(benches, jwt, refresh, scrypt, mfa);
criterion_main!(benches);
