# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, embedded migrations and tzdata).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/minimall ./cmd/minimall

# Run: no shell, no package manager, a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/minimall /app/minimall
COPY configs /app/configs
USER nonroot:nonroot
ENV MINIMALL_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/app/minimall", "healthcheck"]
ENTRYPOINT ["/app/minimall"]
CMD ["serve"]
