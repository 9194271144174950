package auth

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Revocations are the sessions ended by logout before their expiry. A session cookie
// carries everything the server needs to accept it, so a copy of it would stay valid
// after logout; a Sessions with Revocations refuses a session whose ID is listed. The
// list is kept in a file (one JSON line per session, appended and flushed at each
// logout, rewritten without expired entries when opened), so it survives restarts.
type Revocations struct {
	mu   sync.Mutex
	path string
	ids  map[string]time.Time // session ID → its expiry
}

// OpenRevocations reads (or starts) the list kept at path.
func OpenRevocations(path string) (*Revocations, error) {
	r := &Revocations{path: path, ids: map[string]time.Time{}}
	f, err := os.Open(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading ended sessions: %w", err)
	}
	now := time.Now()
	if err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var e revokedEntry
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.ID != "" && e.Expires.After(now) {
				r.ids[e.ID] = e.Expires
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading ended sessions %s: %w", path, err)
		}
	}
	if err := r.rewrite(); err != nil {
		return nil, err
	}
	return r, nil
}

type revokedEntry struct {
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
}

// rewrite writes the live entries to a new file and renames it into place.
func (r *Revocations) rewrite() error {
	tmp := r.path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing ended sessions: %w", err)
	}
	w := bufio.NewWriter(f)
	for id, exp := range r.ids {
		b, _ := json.Marshal(revokedEntry{ID: id, Expires: exp})
		w.Write(append(b, '\n'))
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, r.path)
	}
	if err != nil {
		return fmt.Errorf("writing ended sessions %s: %w", r.path, err)
	}
	return nil
}

// Revoke lists the session until its expiry.
func (r *Revocations) Revoke(s Session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[s.ID]; ok || s.ID == "" {
		return nil
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("ending session: %w", err)
	}
	b, _ := json.Marshal(revokedEntry{ID: s.ID, Expires: s.Expires})
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ending session: %w", err)
	}
	r.ids[s.ID] = s.Expires
	return nil
}

// Revoked reports whether the session with this ID was ended.
func (r *Revocations) Revoked(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.ids[id]
	return ok
}
