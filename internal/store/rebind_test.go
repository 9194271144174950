package store

import "testing"

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"INSERT INTO t VALUES (?,?,?)", "INSERT INTO t VALUES ($1,$2,$3)"},
		{"SELECT '?' , ?", "SELECT '?' , $1"},
		{"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1"},
		{"SELECT '', ?", "SELECT '', $1"},
		{`SELECT E'a\'?', ?`, `SELECT E'a\'?', $1`},
		{`SELECT 'a\', ?`, `SELECT 'a\', $1`}, // standard strings: backslash is not an escape
		{`SELECT "we?ird" FROM t WHERE x = ?`, `SELECT "we?ird" FROM t WHERE x = $1`},
		{"SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2"},
		{"SELECT ? -- trailing?", "SELECT $1 -- trailing?"},
		{"SELECT /* a? /* nested? */ b? */ ?", "SELECT /* a? /* nested? */ b? */ $1"},
		{"SELECT $$ a ? $$, ?", "SELECT $$ a ? $$, $1"},
		{"SELECT $tag$ a ? $ $tag$, ?", "SELECT $tag$ a ? $ $tag$, $1"},
		{"SELECT a$b, ?", "SELECT a$b, $1"},
		{"SELECT 'unterminated ?", "SELECT 'unterminated ?"},
		{"SELECT x/?", "SELECT x/$1"},
		{"SELECT x-?", "SELECT x-$1"},
	} {
		if got := rebind(Postgres, tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := rebind(SQLite, tc.in); got != tc.in {
			t.Errorf("SQLite rebind changed %q to %q", tc.in, got)
		}
	}
}

func BenchmarkRebind(b *testing.B) {
	q := "INSERT INTO items (id, name, n, note, created_ms) VALUES (?, ?, ?, 'what?', ?) ON CONFLICT (id) DO UPDATE SET n = excluded.n"
	for b.Loop() {
		rebind(Postgres, q)
	}
}
