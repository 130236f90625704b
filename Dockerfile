# The image a cluster dump's node pods run (dump gather-upload --cluster --image).
# A static dump binary, plus the stock tools its host profile runs (ps, ss, ip,
# journalctl reading /host's journal through --directory, iptables-save, ...):
# the node's own binaries are not run, its root is only read under /host.
#
#   docker build -t REGISTRY/dump:TAG --build-arg VERSION=$(git describe --tags --always) .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /dump ./cmd/dump

FROM debian:stable-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends procps iproute2 iptables kmod util-linux systemd ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /dump /usr/local/bin/dump
ENTRYPOINT ["dump"]
