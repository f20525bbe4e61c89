# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, embedded migrations and tzdata).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
COPY docs ./docs
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/minimall ./cmd/minimall \
 && mkdir -p /out/data

# Run: no shell, no package manager, a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/minimall /app/minimall
# A data directory the non-root user owns, for the SQLite file and media of
# demo mode (a volume mounted here starts with this ownership).
COPY --from=build --chown=nonroot:nonroot /out/data /app/data
COPY configs /app/configs
USER nonroot:nonroot
ENV MINIMALL_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/app/minimall", "healthcheck"]
ENTRYPOINT ["/app/minimall"]
CMD ["serve"]
