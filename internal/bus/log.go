package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// natsLogger passes the embedded server's log lines to an slog.Logger. The
// server's notices (start-up banners, client chatter) go to debug level;
// warnings and errors keep their level. A fatal line is also kept, so that
// StartServer can say why the server did not start.
type natsLogger struct {
	l *slog.Logger

	mu    sync.Mutex
	fatal string
	fatc  chan struct{} // closed at the first fatal line
}

func newNATSLogger(l *slog.Logger) *natsLogger {
	return &natsLogger{l: l.With("component", "nats"), fatc: make(chan struct{})}
}

func (n *natsLogger) log(level slog.Level, format string, v []any) {
	if !n.l.Enabled(context.Background(), level) {
		return
	}
	n.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (n *natsLogger) Noticef(format string, v ...any) { n.log(slog.LevelDebug, format, v) }
func (n *natsLogger) Warnf(format string, v ...any)   { n.log(slog.LevelWarn, format, v) }
func (n *natsLogger) Errorf(format string, v ...any)  { n.log(slog.LevelError, format, v) }
func (n *natsLogger) Debugf(format string, v ...any)  { n.log(slog.LevelDebug, format, v) }
func (n *natsLogger) Tracef(format string, v ...any)  { n.log(slog.LevelDebug, format, v) }

// Fatalf logs at error level and records the line; it does not exit.
func (n *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	n.l.Error(msg)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fatal == "" {
		n.fatal = msg
		close(n.fatc)
	}
}

func (n *natsLogger) fatalLine() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fatal
}
