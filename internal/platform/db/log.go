package db

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// slowQuery is the threshold above which a statement is logged.
const slowQuery = 200 * time.Millisecond

// gormLogger sends slow statements and unexpected errors to slog; expected
// outcomes (no row found) stay quiet.
type gormLogger struct{ log *slog.Logger }

func newGormLogger(l *slog.Logger) logger.Interface { return gormLogger{log: l} }

func (g gormLogger) LogMode(logger.LogLevel) logger.Interface { return g }
func (g gormLogger) Info(ctx context.Context, msg string, args ...any) {
	g.log.InfoContext(ctx, msg, "args", args)
}
func (g gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	g.log.WarnContext(ctx, msg, "args", args)
}
func (g gormLogger) Error(ctx context.Context, msg string, args ...any) {
	g.log.ErrorContext(ctx, msg, "args", args)
}

func (g gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !IsDuplicate(err):
		sql, rows := fc()
		g.log.WarnContext(ctx, "sql error", "err", err, "sql", sql, "rows", rows, "elapsed", elapsed)
	case elapsed > slowQuery:
		sql, rows := fc()
		g.log.WarnContext(ctx, "slow sql", "sql", sql, "rows", rows, "elapsed", elapsed)
	}
}
