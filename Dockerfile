# edgeauth container image: `docker build -t edgeauth:0.1.0 .`
# (the tag k8s/deployment.yaml uses; keep it equal to the crate version,
# .ci/k8s-check checks the manifest side).
#
# Build stage: the release binary, against the committed Cargo.lock.
ARG RUST_VERSION=1
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /build
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0

# 1. Dependencies only: this layer depends on Cargo.toml and Cargo.lock alone,
#    so a change to the code does not rebuild every crate. Stub targets stand
#    in for the real ones (cargo needs every declared target to exist,
#    including the [[bench]]).
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && : > src/lib.rs \
 && echo 'fn main() {}' > benches/crypto.rs \
 && cargo build --release --locked --bin edgeauth \
 && rm -rf src benches

# 2. The crate itself. lua/ is compiled in (include_str!). COPY keeps the
#    files' own mtimes, which can be older than the stub build: touch them
#    so cargo rebuilds the edgeauth crate instead of keeping the stub.
COPY src ./src
COPY lua ./lua
COPY benches ./benches
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin edgeauth \
 && install -D -m 0755 target/release/edgeauth /out/edgeauth \
 && /out/edgeauth --version

# Runtime stage: glibc + libgcc only (ring needs no OpenSSL), no shell, no
# package manager, user nonroot (65532). Same Debian release as the builder,
# so the binary's glibc matches.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="edgeauth" \
      org.opencontainers.image.description="A small, stateless, Redis-backed authentication server for the edge" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/edgeauth /usr/local/bin/edgeauth
# Numeric, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
USER 65532:65532
# 8080: public API; 9090: admin (/healthz, /readyz, /metrics).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/edgeauth"]
CMD ["serve"]
