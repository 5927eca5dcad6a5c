# The native webhook server's image (`resource-limits serve`) for those who build with Docker:
#
#   docker build -t registry.example.com/policies/resource-limits-server:v0.1.0 .
#
# The same image `make image` builds and pushes without a Docker engine (scripts/image.sh, with
# crane): one static binary on an empty base, run as an unprivileged user, HTTPS on 8443.
# tests/hosts/tests/image.rs holds this file and the script to the same entrypoint, user, port
# and labels, and this builder to the toolchain of rust-toolchain.toml.

# The build: the toolchain of rust-toolchain.toml (its musl target), musl-tools for ring's C.
FROM --platform=linux/amd64 rust:1.95.0-slim AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY rust-toolchain.toml ./
RUN rustup toolchain install
COPY . .
RUN cargo build --locked --profile native --target x86_64-unknown-linux-musl -p resource-limits-cli \
        --no-default-features \
    && install -m 0755 target/x86_64-unknown-linux-musl/native/resource-limits /resource-limits

# The image: the binary alone (statically linked: no libc, no shell, no interpreter).
FROM --platform=linux/amd64 scratch
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="resource-limits-server" \
      org.opencontainers.image.description="resource-limits admission webhook server" \
      org.opencontainers.image.source="https://example.com/resource-limits" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /resource-limits /resource-limits
USER 65532:65532
EXPOSE 8443/tcp
ENTRYPOINT ["/resource-limits", "serve"]
