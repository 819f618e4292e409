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
#    in for the real ones: cargo refuses a manifest whose declared targets
#    are missing, so the awk below lists every target Cargo.toml declares
#    ([lib], [[bin]], [[bench]], [[test]], [[example]]: its `path`, or the
#    file cargo would look for by default) and each gets an empty stub; they
#    are removed again before the real sources come in. A new target in
#    Cargo.toml needs no change here (.ci/docker-check runs this stage).
COPY Cargo.toml Cargo.lock ./
RUN awk -F'"' ' \
      function emit() { if (kind != "") print kind, (path != "" ? path : kind == "lib" ? "src/lib.rs" : kind == "bin" && name == pkg ? "src/main.rs" : dir[kind] "/" name ".rs"); kind = name = path = "" } \
      BEGIN { dir["bin"] = "src/bin"; dir["bench"] = "benches"; dir["test"] = "tests"; dir["example"] = "examples" } \
      /^\[/ { emit(); section = $0 } \
      /^\[lib\]/ { kind = "lib" } \
      /^\[\[(bin|bench|test|example)\]\]/ { kind = substr($0, 3, index($0, "]]") - 3) } \
      /^name *=/ { if (section ~ /^\[package\]/) pkg = $2; else if (kind != "") name = $2 } \
      /^path *=/ { if (kind != "") path = $2 } \
      END { emit(); print "lib src/lib.rs"; print "bin src/main.rs" }' Cargo.toml | sort -u > stub-targets \
 && while read -r kind file; do \
      mkdir -p "$(dirname "$file")"; \
      if [ "$kind" = lib ]; then : > "$file"; else echo 'fn main() {}' > "$file"; fi; \
    done < stub-targets \
 && cargo build --release --locked --bin edgeauth \
 && cut -d' ' -f2 stub-targets | xargs rm -f \
 && rm stub-targets

# 2. The crate itself. lua/, the portal's templates/ (askama) and static/
#    (its stylesheet) are compiled in. COPY keeps the
#    files' own mtimes, which can be older than the stub build: touch them
#    so cargo rebuilds the edgeauth crate instead of keeping the stub.
COPY src ./src
COPY lua ./lua
COPY templates ./templates
COPY static ./static
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
