# syntax=docker/dockerfile:1
# trailhound container image: the long-running SQS consumer for ECS/Fargate (or any
# container platform). Multi-stage: a full Rust toolchain builds the release binary (the rule
# pack in sql-rules/ is compiled into it), and a distroless runtime image holding only glibc,
# CA certificates and the binary runs it as a non-root user.
#
#   docker build -t trailhound .
#   docker run --rm trailhound --help
#
# For arm64 (Graviton) Fargate: docker buildx build --platform linux/arm64 -t trailhound .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# BuildKit caches keep the crates and the compiled dependencies between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p trailhound \
    && install -D target/release/trailhound /out/trailhound

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/trailhound /usr/local/bin/trailhound
# The rule pack is also shipped as files, to read or to copy as a starting point.
COPY --chown=nonroot:nonroot sql-rules /usr/share/trailhound/rules
USER nonroot:nonroot
ENV TRAILHOUND_OPS_LISTEN=0.0.0.0:9100
EXPOSE 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["/usr/local/bin/trailhound", "health", "--url", "http://127.0.0.1:9100/health"]
ENTRYPOINT ["/usr/local/bin/trailhound"]
CMD ["run", "--log-format", "json"]
