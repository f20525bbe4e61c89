package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed migrations/sqlite/*.sql migrations/mysql/*.sql
var migrations embed.FS

func (d *DB) provider() (*goose.Provider, error) {
	dialect, dir := goose.DialectSQLite3, "migrations/sqlite"
	if d.dialect == MySQL {
		dialect, dir = goose.DialectMySQL, "migrations/mysql"
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, d.SQL(), sub)
}

// Migrate applies every pending migration and returns the resulting version.
func (d *DB) Migrate(ctx context.Context) (int64, error) {
	p, err := d.provider()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return p.GetDBVersion(ctx)
}

// SchemaStatus returns the database's schema version and the newest version
// this binary knows.
func (d *DB) SchemaStatus(ctx context.Context) (current, latest int64, err error) {
	p, err := d.provider()
	if err != nil {
		return 0, 0, err
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("schema version: %w", err)
	}
	sources := p.ListSources()
	if len(sources) > 0 {
		latest = sources[len(sources)-1].Version
	}
	return current, latest, nil
}

// CheckSchema refuses a database whose schema is behind this binary: in
// production `minimall migrate` runs once before a rollout, so several
// instances never race to migrate.
func (d *DB) CheckSchema(ctx context.Context) error {
	current, latest, err := d.SchemaStatus(ctx)
	if err != nil {
		return err
	}
	if current < latest {
		return fmt.Errorf("database schema is at version %d, this binary needs %d: run `minimall migrate` first", current, latest)
	}
	return nil
}
