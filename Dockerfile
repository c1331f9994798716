# A container image of the Bester server (docs/deployment.md):
#
#   docker build -t bester .        # or: podman build -t bester .
#
# The build stage runs the checks CI runs, with the same script (.ci/run: go
# vet, staticcheck, gofmt, go test -race), then the release build; the final image holds
# besterd, the bester client, the relay handler and examples/deploy/config.hcl,
# and runs as an unprivileged user.

FROM golang:1.26.8 AS build
WORKDIR /src
# The modules first: a change to the code alone does not fetch them again.
COPY go.mod go.sum ./
RUN go mod download
# Everything else, .git included: go build stamps the commit from it.
COPY . .
RUN bash .ci/run
# Static binaries (no cgo: the final image has no C library), stamped with
# the module version and commit (`go version -m besterd` shows them).
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=true -o /out/ ./cmd/besterd ./cmd/bester ./examples/relay
# runtime_dir of the configuration: the handler's and the informer's
# sockets, for the server's user alone.
RUN mkdir -m 0700 /out/run

# Distroless: no shell, no package manager, and the user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/besterd /out/bester /out/relay /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/run /run/bester
# The configuration's default. A directory mounted over /etc/bester
# replaces it, with users.htpasswd and certs/ beside it (docs/deployment.md).
COPY examples/deploy/config.hcl /etc/bester/config.hcl
USER 65532:65532
# The TLS listener of config.hcl.
EXPOSE 2443
ENTRYPOINT ["/usr/local/bin/besterd", "-config", "/etc/bester/config.hcl"]
