package db

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// slowQuery is the threshold above which a statement is logged.
const slowQuery = 200 * time.Millisecond

// Background loads (the catalog cache refresher, batch reads of jobs) are in
// nobody's request path and slow down first when the database is busy:
// logging each one as slow SQL would flood the log exactly when it matters
// least. They are logged above slowBackgroundQuery, at most once per
// backgroundLogEvery, with the count of slow ones not logged in between.
const (
	slowBackgroundQuery = time.Second
	backgroundLogEvery  = time.Minute
)

type backgroundKey struct{}

// Background marks ctx as a background load for the slow-SQL log.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

func isBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}

// gormLogger sends slow statements and unexpected errors to slog; expected
// outcomes (no row found) stay quiet.
type gormLogger struct {
	log *slog.Logger

	mu         sync.Mutex
	lastSlowBG time.Time
	suppressed int
}

func newGormLogger(l *slog.Logger) logger.Interface { return &gormLogger{log: l} }

func (g *gormLogger) LogMode(logger.LogLevel) logger.Interface { return g }
func (g *gormLogger) Info(ctx context.Context, msg string, args ...any) {
	g.log.InfoContext(ctx, msg, "args", args)
}
func (g *gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	g.log.WarnContext(ctx, msg, "args", args)
}
func (g *gormLogger) Error(ctx context.Context, msg string, args ...any) {
	g.log.ErrorContext(ctx, msg, "args", args)
}

// ParamsFilter drops the statement's values from what is logged: SQL lines
// show placeholders only, so phone numbers, addresses, tokens and other
// personal data in the values never reach the logs.
func (g *gormLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

func (g *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !IsDuplicate(err):
		sql, rows := fc()
		g.log.WarnContext(ctx, "sql error", "err", err, "sql", sql, "rows", rows, "elapsed", elapsed)
	case isBackground(ctx):
		if elapsed <= slowBackgroundQuery {
			return
		}
		g.mu.Lock()
		now := time.Now()
		if !g.lastSlowBG.IsZero() && now.Sub(g.lastSlowBG) < backgroundLogEvery {
			g.suppressed++
			g.mu.Unlock()
			return
		}
		suppressed := g.suppressed
		g.lastSlowBG, g.suppressed = now, 0
		g.mu.Unlock()
		sql, rows := fc()
		g.log.WarnContext(ctx, "slow background sql", "sql", sql, "rows", rows, "elapsed", elapsed,
			"slow_not_logged_since_last", suppressed)
	case elapsed > slowQuery:
		sql, rows := fc()
		g.log.WarnContext(ctx, "slow sql", "sql", sql, "rows", rows, "elapsed", elapsed)
	}
}
