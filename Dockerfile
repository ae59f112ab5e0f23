# syntax=docker/dockerfile:1
# workflow-runtime: one static binary (pure-Go SQLite, no cgo) on distroless, running as nonroot.
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t workflow-runtime .
#   docker run -p 8080:8080 -v wfr-data:/data -v $PWD/tokens:/etc/workflow-runtime/tokens:ro \
#     -e WFR_AUTH_TOKENS_FILE=/etc/workflow-runtime/tokens workflow-runtime   # all roles, SQLite in /data
#   docker run -p 127.0.0.1:8080:8080 -e WFR_AUTH=none ... workflow-runtime  # a laptop trial, no tokens
#   docker run ... workflow-runtime serve --role=api                       # one role (see deploy/k8s)
#
# The container listens on :8080 (every interface), so the process refuses to start without a
# tokens file (NAME SCOPES TOKEN per line, see internal/auth) unless WFR_AUTH=none is said.
#   docker run ... workflow-runtime migrate
#
# compose.yaml builds the same image on RUNTIME_BASE=gcr.io/distroless/static-debian12:debug-nonroot,
# whose busybox (/busybox/wget) runs its healthchecks; the default base has no shell and no tools.

# The runtime image's base: distroless static, nonroot (uid and gid 65532).
ARG RUNTIME_BASE=gcr.io/distroless/static-debian12:nonroot

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that source changes reuse this layer. gen/ and sdk/go/ are modules of
# their own that go.mod replaces with ./gen and ./sdk/go (the operator commands are built on the
# Go SDK): their go.mod files are needed to resolve the graph.
COPY go.mod go.sum ./
COPY gen/go.mod gen/go.sum ./gen/
COPY sdk/go/go.mod sdk/go/go.sum ./sdk/go/
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The version printed by the binary and reported by /health; .git is not in the build context.
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/workflow-runtime/workflow-runtime/internal/app.Version=${VERSION}" \
      -o /out/workflow-runtime ./cmd/workflow-runtime \
 && mkdir -p /out/data

FROM ${RUNTIME_BASE}
COPY --from=build /out/workflow-runtime /workflow-runtime
# An empty /data owned by nonroot (65532), so that a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
# Defaults for a single container: listen on 8080, SQLite file on the volume. Production sets
# WFR_DATABASE_URL (postgres://...) and WFR_REDIS_URL instead (see deploy/k8s).
ENV WFR_ADDR=:8080 \
    WFR_DATABASE_URL=sqlite:///data/workflow-runtime.db
VOLUME /data
EXPOSE 8080
# Numeric, so that the kubelet can check runAsNonRoot against it (a name it cannot).
USER 65532:65532
ENTRYPOINT ["/workflow-runtime"]
CMD ["serve"]
