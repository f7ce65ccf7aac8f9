package node

import (
	"context"
	"log/slog"
	"strings"
)

// minLevel wraps a handler and drops records below a level, for noisy
// libraries (protoactor logs every actor start at info).
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

// lineLogger is an io.Writer for libraries that log lines through the
// standard log package or hclog ("… [WARN] raft: …"): each line becomes a
// slog record at the level its bracketed prefix names.
type lineLogger struct {
	log *slog.Logger
}

func (l *lineLogger) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		level, msg := slog.LevelInfo, line
		if i := strings.Index(line, "["); i >= 0 {
			if j := strings.Index(line[i:], "]"); j > 0 {
				switch line[i+1 : i+j] {
				case "TRACE", "DEBUG":
					level = slog.LevelDebug
				case "WARN":
					level = slog.LevelWarn
				case "ERR", "ERROR":
					level = slog.LevelError
				}
				msg = strings.TrimSpace(line[i+j+1:])
			}
		}
		l.log.Log(context.Background(), level, msg)
	}
	return len(p), nil
}
