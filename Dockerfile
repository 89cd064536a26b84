# A small image: one static (musl) binary on an empty base, serving the built-in demo data on
# port 9080. Health: `ecs-emulator healthcheck` asks GET /_emulator/ready on loopback.
#   docker build -t ecs-emulator .
#   docker run --rm -p 9080:9080 ecs-emulator
#   docker run --rm -p 9080:9080 -v "$PWD/data.json:/data.json:ro" ecs-emulator --data /data.json
FROM rust:1-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY data data
COPY benches benches
RUN cargo build --release --locked --bin ecs-emulator && strip target/release/ecs-emulator

FROM scratch
COPY --from=build /src/target/release/ecs-emulator /ecs-emulator
ENV ECS_EMULATOR_LISTEN=0.0.0.0:9080
EXPOSE 9080
USER 65534:65534
HEALTHCHECK --interval=5s --timeout=4s --start-period=2s --retries=3 CMD ["/ecs-emulator", "healthcheck"]
ENTRYPOINT ["/ecs-emulator"]
