-- +goose Up
-- Second-factor secrets are stored sealed (internal/staff seal.go); SQLite's
-- TEXT columns already hold them. This keeps the two schemas' versions equal.
SELECT 1;

-- +goose Down
SELECT 1;
