# syntax=docker/dockerfile:1

# ---- build ------------------------------------------------------------------
# Same Debian release as the runtime stage, so the binary links against the
# glibc it will run with.
FROM rust:1-slim-bookworm AS builder
WORKDIR /build

# Compile the dependency graph against a placeholder main first: this layer is
# reused for as long as Cargo.toml and Cargo.lock stay the same, so editing the
# application does not recompile every crate.
COPY Cargo.toml Cargo.lock ./
# A patched diesel-async (vendor/README.md) is part of the dependency graph.
COPY vendor ./vendor
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && cargo build --release --locked \
    && rm -rf src

# migrations/ and demo/ are compiled into the binary by macros, so they must be
# in the build context even though the runtime image never sees them.
COPY src ./src
COPY migrations ./migrations
COPY demo ./demo
# COPY keeps the files' original mtimes, which can be older than the placeholder
# build; touching main.rs makes sure cargo rebuilds the real crate.
RUN touch src/main.rs \
    && cargo build --release --locked

# ---- runtime ----------------------------------------------------------------
# The Postgres client and its TLS (rustls) are pure Rust, so the binary needs
# nothing beyond glibc but the platform's CA certificates, which sslmode
# verify-ca and verify-full trust when DATABASE_URL names no sslrootcert: no
# libpq, no OpenSSL.
FROM debian:bookworm-slim

# ca-certificates is left unpinned on purpose: a trust store should be the
# newest the release ships, not a copy that still trusts withdrawn CAs.
# A fixed numeric uid lets orchestrators verify "not root" and lets mounted
# volumes be chowned predictably.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 broadsheet \
    && useradd --system --uid 10001 --gid broadsheet \
        --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin broadsheet

COPY --from=builder /build/target/release/broadsheet /usr/local/bin/broadsheet

# The binary's default listens on loopback only, which is unreachable from
# outside a container.
ENV BROADSHEET_LISTEN=0.0.0.0:8080
EXPOSE 8080

USER 10001:10001

# The image has no curl/wget and the binary has no probe subcommand, so bash
# (present in the base image) speaks just enough HTTP to check for a 200 from
# /healthz. The port follows BROADSHEET_LISTEN so an override keeps working.
# start-period covers migrations and seeding on first boot.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>\"/dev/tcp/127.0.0.1/${BROADSHEET_LISTEN##*:}\" && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q '^HTTP/1\\.[01] 200 '"]

ENTRYPOINT ["broadsheet"]
CMD ["serve"]
