package sandbox

import "sync"

// Call is what the sandbox saw of one request: which interaction, and who Spine would record it for.
// Tests use it to prove which identity reached Spine and how many calls a piece of work made.
type Call struct {
	Interaction   string // search, retrieve, nhs111itemsummary or nhs111itemdetails
	UserID        string // Spine-UserId as sent ("" when absent)
	RoleProfileID string // Spine-RoleProfileId as sent
	TraceID       string // Eps-TraceId as sent
}

// callLogSize bounds the call log, so that a long-running sandbox under load does not grow.
const callLogSize = 4096

// callLog keeps the most recent calls and a count of every call since the last Reset.
type callLog struct {
	mu    sync.Mutex
	calls []Call
	next  int
	total int
}

func (l *callLog) add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) < callLogSize {
		l.calls = append(l.calls, c)
	} else {
		l.calls[l.next] = c
	}
	l.next = (l.next + 1) % callLogSize
	l.total++
}

// Calls returns the calls since the last ResetCalls (the most recent 4096 at most), oldest first,
// and how many there were in all.
func (s *Sandbox) Calls() (recent []Call, total int) {
	l := &s.calls
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) < callLogSize {
		return append([]Call(nil), l.calls...), l.total
	}
	recent = append(recent, l.calls[l.next:]...)
	return append(recent, l.calls[:l.next]...), l.total
}

// CallCount is how many calls of the interaction ("" for any) the sandbox has had since the last
// ResetCalls, counting only those still in the log.
func (s *Sandbox) CallCount(interaction string) int {
	recent, total := s.Calls()
	if interaction == "" {
		return total
	}
	n := 0
	for _, c := range recent {
		if c.Interaction == interaction {
			n++
		}
	}
	return n
}

// ResetCalls forgets every call seen so far.
func (s *Sandbox) ResetCalls() {
	l := &s.calls
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls, l.next, l.total = nil, 0, 0
}
