# Convenience targets; each is one plain Go command documented in README.md.
.PHONY: run test test-mysql vet fmt build bench

run:
	go run ./cmd/minimall serve --demo

test:
	go test ./...

test-mysql:
	MINIMALL_TEST_MYSQL_DSN="$$(scripts/start-mysql.sh)" go test ./...

vet:
	go vet ./...
	test -z "$$(gofmt -l cmd internal)"

build:
	CGO_ENABLED=0 go build -trimpath -o bin/minimall ./cmd/minimall
