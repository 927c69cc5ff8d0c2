# Redust in a container, laid out like the official redis image: user and
# group "redis" (uid/gid 999), data in /data, redis-server and friends on
# PATH, docker-entrypoint.sh dropping root before the server starts.

FROM rust:1-bookworm AS build
WORKDIR /src
# The C helper in src/util is built by build.rs with the cc toolchain the
# rust image already has.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
RUN cargo build --release --locked --bin redust-server \
    && strip target/release/redust-server

FROM debian:bookworm-slim
RUN groupadd --system --gid 999 redis \
    && useradd --system --uid 999 --gid redis --home-dir /data --shell /usr/sbin/nologin redis
# redis-cli comes from Debian's redis-tools; setpriv (util-linux, already in
# the base image) drops privileges in the entrypoint.
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-tools \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/redust-server /usr/local/bin/redust-server
RUN ln -s redust-server /usr/local/bin/redis-server \
    && ln -s redust-server /usr/local/bin/redis-check-rdb \
    && ln -s redust-server /usr/local/bin/redis-check-aof
COPY scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN mkdir /data && chown redis:redis /data
VOLUME /data
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
# protected-mode is off unless a config file says otherwise (see the
# entrypoint), as in the official image.
CMD ["redis-server"]
