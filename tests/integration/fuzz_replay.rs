//! The fuzz targets on stable, without libFuzzer (`.ci/fuzz` runs this when there is
//! no nightly toolchain, and `scripts/test` always does). The target bodies are the very
//! functions libFuzzer runs, included from `fuzz/src/lib.rs`: every seed under
//! `fuzz/seeds/<target>/` is replayed, then a fixed number of pseudo-random inputs (random
//! bytes, and seeds mutated) from a deterministic generator. Pure functions: no Redis, no server.

use std::path::{Path, PathBuf};

#[path = "../../fuzz/src/lib.rs"]
mod targets;

/// Pseudo-random inputs per target. Deterministic: a failure reproduces with the same count.
const RANDOM_INPUTS: usize = 5_000;

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Runs `body` on `input`; on a panic, names the input (hex too, for binary ones) and fails.
fn run(target: &str, what: &str, body: fn(&[u8]), input: &[u8]) {
    if std::panic::catch_unwind(|| body(input)).is_err() {
        let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
        panic!(
            "fuzz target {target} failed on {what}: {:?} (hex {hex})",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn seeds_replay() {
    for (target, body) in targets::TARGETS {
        let seeds = seeds(target);
        assert!(seeds.len() >= 3, "{target}: too few seeds");
        for (path, bytes) in seeds {
            run(target, &path.display().to_string(), body, &bytes);
        }
    }
}

/// xorshift64*: tiny, deterministic, good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Bytes that matter to the parsers, spliced in so random inputs get past the first check.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\\u0000",
    b"\\ud800",
    b"\xff",
    b"\xc3\xa9",
    b"\"email\":",
    b"\"ticket\":",
    b"\"code\":",
    b"1e999",
    b"null",
    b";",
    b"=",
    b" ",
    b"\t",
    b"refresh_token=",
    b"Bearer ",
    b".",
    b"=",
    b"-",
    b"_",
    b"\n",
    b"10.0.0.9",
    b"::ffff:",
];

/// Either fresh random bytes or a seed with a few random edits.
fn random_input(rng: &mut Rng, seeds: &[(PathBuf, Vec<u8>)]) -> Vec<u8> {
    if seeds.is_empty() || rng.below(4) == 0 {
        let len = rng.below(300);
        return (0..len).map(|_| rng.byte()).collect();
    }
    let mut input = seeds[rng.below(seeds.len())].1.clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(input.len() + 1);
        match rng.below(5) {
            0 if at < input.len() => input[at] ^= 1 << rng.below(8),
            1 if at < input.len() => input[at] = rng.byte(),
            2 => input.insert(at, rng.byte()),
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                input.splice(at..at, token.iter().copied());
            }
            _ => input.truncate(at.max(input.len() / 2)),
        }
    }
    input
}

#[test]
fn random_inputs() {
    for (i, (target, body)) in targets::TARGETS.into_iter().enumerate() {
        let seeds = seeds(target);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ i as u64);
        for n in 0..RANDOM_INPUTS {
            let input = random_input(&mut rng, &seeds);
            run(target, &format!("random input #{n}"), body, &input);
        }
    }
}
