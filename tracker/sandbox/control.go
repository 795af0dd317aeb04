package sandbox

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// controlInterval is how often, at most, the sandbox looks at its control file.
const controlInterval = 100 * time.Millisecond

// control lets a process outside the sandbox change its fault while it runs, for soak tests of an
// adapter whose sandbox is embedded (load/soak.sh): Options.ControlFile names a file holding a
// fault in ParseFault's syntax ("" or "none" clears it), or "rotate" for new certificates, as a
// Spine restarted with new certificates would have. The file is read when it changes, looked at no
// more than every controlInterval, on requests only.
type control struct {
	path      string
	nextCheck atomic.Int64 // unix nanoseconds

	mu       sync.Mutex
	modTime  time.Time
	size     int64
	onRotate func() error // set by Start; nil for a bare Sandbox
}

// poll applies the control file if it changed since the last look.
func (s *Sandbox) poll(ctx context.Context) {
	c := &s.control
	now := time.Now()
	if c.path == "" || now.UnixNano() < c.nextCheck.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.UnixNano() < c.nextCheck.Load() {
		return // another request looked meanwhile
	}
	c.nextCheck.Store(now.Add(controlInterval).UnixNano())
	fi, err := os.Stat(c.path)
	if err != nil || (fi.ModTime().Equal(c.modTime) && fi.Size() == c.size) {
		return
	}
	c.modTime, c.size = fi.ModTime(), fi.Size()
	data, err := os.ReadFile(c.path)
	if err != nil {
		return
	}
	cmd := strings.TrimSpace(string(data))
	if cmd == "rotate" {
		if c.onRotate == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "sandbox control: rotate needs a served sandbox (Start)")
			return
		}
		if err := c.onRotate(); err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "sandbox control: rotating certificates", slog.Any("error", err))
			return
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "sandbox control: certificates rotated")
		return
	}
	f, err := ParseFault(cmd)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "sandbox control: ignoring the file", slog.Any("error", err))
		return
	}
	s.SetFault(f)
	s.log.LogAttrs(ctx, slog.LevelInfo, "sandbox control: fault set", slog.String("fault", f.String()))
}
