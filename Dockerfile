# syntax=docker/dockerfile:1.7
#
# Multi-stage build for the otelwright demo services and the static health probe.
#
#   docker build --target health-agent -t otelwright/health-agent .
#   docker build --target recommender  -t otelwright/recommender .
#   docker build --target healthcheck  -t otelwright/healthcheck .
#
# docker-compose.yml builds all three. The services' binaries come from the workspace
# (`cargo build --release -p health-agent -p recommender`); the probe is one std-only Rust file
# (collector-config/healthcheck/healthcheck.rs) linked statically so it runs in shell-less images.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- build: the workspace's release binaries -------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
# No protoc: recommender's proto is compiled by protox in its build.rs. pkg-config + libssl-dev for crates that
# link OpenSSL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds; the binaries are copied out of the cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p health-agent -p recommender \
    && mkdir -p /out \
    && cp target/release/health-agent target/release/recommender /out/

# ---- probe: the static health check binary ----------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS probe
COPY collector-config/healthcheck/healthcheck.rs /src/healthcheck.rs
RUN mkdir -p /out \
    && rustc --edition 2021 -O -C target-feature=+crt-static -C strip=symbols -o /out/healthcheck /src/healthcheck.rs

# ---- healthcheck: copies the probe (and fixes volume ownership) for the shell-less images in docker-compose ------
FROM busybox:1.37.0 AS healthcheck
COPY --from=probe /out/healthcheck /healthcheck
# /probe is the shared `healthcheck` volume; /queue* are the collectors' file_storage volumes, which Docker creates
# root-owned while the collector runs as uid 10001.
CMD ["sh", "-c", "cp /healthcheck /probe/healthcheck && chmod 0755 /probe/healthcheck && chown -R 10001:10001 /queue /queue-2"]

# ---- runtime: shared base of the two services -------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin otelwright
COPY --from=probe /out/healthcheck /usr/local/bin/healthcheck
USER 10001:10001

# ---- health-agent: the demo API (HTTP 8000) ---------------------------------------------------------------------
FROM runtime AS health-agent
COPY --from=build /out/health-agent /usr/local/bin/health-agent
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/healthcheck", "http://127.0.0.1:8000/health"]
ENTRYPOINT ["/usr/local/bin/health-agent"]

# ---- recommender: the gRPC service (50051) ----------------------------------------------------------------------
FROM runtime AS recommender
COPY --from=build /out/recommender /usr/local/bin/recommender
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/healthcheck", "tcp://127.0.0.1:50051"]
ENTRYPOINT ["/usr/local/bin/recommender"]
