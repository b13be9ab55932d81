# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run on a slim Debian with
# only CA certificates, as an unprivileged user, with the data on a volume.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in queue_throughput session_restore messaging webhooks; do echo 'fn main() {}' > benches/$b.rs; done \
    && cargo build --release --locked \
    && rm -rf src benches
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked && strip target/release/wa-gateway

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin wag \
    && mkdir -p /data && chown wag /data && chmod 0700 /data
COPY --from=build /src/target/release/wa-gateway /usr/local/bin/wa-gateway
USER wag
WORKDIR /data
ENV WAG_STORAGE__DATA_DIR=/data \
    WAG_SERVER__HOST=0.0.0.0 \
    PORT=3000 \
    WAG_LOG__FORMAT=json
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/wa-gateway", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/wa-gateway"]
CMD ["serve"]
