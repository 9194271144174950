package visa

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIssueVerify(t *testing.T) {
	w := newWorld(t)
	iss := w.issue(t, datasetA, AccessDownload, 24*time.Hour)
	for _, act := range []Action{ActionView, ActionDownload, ActionProcess} {
		d := w.allow(iss.Token, datasetA, act)
		wantAllowed(t, d)
		v := d.Visa
		if v.Subject != "alice" || v.Value != datasetA || v.Access != AccessDownload || v.JTI != iss.JTI ||
			v.KeyID != iss.KeyID || v.Request != "req-42" || !v.Expires.Equal(iss.Expires) || v.By != ByDAC ||
			v.Type != TypeControlledAccessGrants || v.Source != testIssuer || v.Issuer != testIssuer {
			t.Fatalf("visa read back as %+v", v)
		}
	}
	// The token is what the spec asks for.
	p := payloadOf(t, iss.Token)
	obj := p["ga4gh_visa_v1"].(map[string]any)
	for k, want := range map[string]any{"type": "ControlledAccessGrants", "value": datasetA, "source": testIssuer, "by": "dac"} {
		if obj[k] != want {
			t.Errorf("ga4gh_visa_v1.%s = %v, want %v", k, obj[k], want)
		}
	}
	for _, k := range []string{"iss", "sub", "iat", "exp", "jti"} {
		if _, ok := p[k]; !ok {
			t.Errorf("claim %q missing", k)
		}
	}
	if _, ok := obj["asserted"]; !ok {
		t.Error("asserted missing")
	}
	h, err := b64.DecodeString(strings.Split(iss.Token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"alg":"ES256","jku":"https://hub.example.org/.well-known/jwks.json","kid":"` + iss.KeyID + `","typ":"vnd.ga4gh.visa+jwt"}`; string(h) != want {
		t.Fatalf("header %s, want %s", h, want)
	}
	e := w.audit.last(t)
	if e.Type != EventAllowed || e.Actor != "alice" || e.Subject != datasetA || e.Fields["jti"] != iss.JTI ||
		e.Fields["request"] != "req-42" || e.Fields["action"] != "process" || strings.Contains(e.Fields["reason"], iss.Token) {
		t.Fatalf("audit event %+v", e)
	}
}

func TestExpiry(t *testing.T) {
	w := newWorld(t)
	iss := w.issue(t, datasetA, AccessView, time.Hour)
	w.nodeClock.Add(time.Hour + 30*time.Second) // within the leeway
	wantAllowed(t, w.allow(iss.Token, datasetA, ActionView))
	w.nodeClock.Add(time.Minute)
	d := w.allow(iss.Token, datasetA, ActionView)
	wantErr(t, d, ErrExpired)
	if e := w.audit.last(t); e.Type != EventDenied || e.Fields["jti"] != iss.JTI {
		t.Fatalf("denial audited as %+v", e)
	}
}

func TestNotYetValid(t *testing.T) {
	w := newWorld(t)
	// The hub's clock runs 10 minutes ahead of the node's: "iat" is in the future.
	w.hubClock.Add(10 * time.Minute)
	iss := w.issue(t, datasetA, AccessView, time.Hour)
	wantErr(t, w.allow(iss.Token, datasetA, ActionView), ErrNotYetValid)
	w.nodeClock.Add(9*time.Minute + 30*time.Second) // within the leeway now
	wantAllowed(t, w.allow(iss.Token, datasetA, ActionView))

	// "nbf" in the future.
	w2 := newWorld(t)
	kid, priv := w2.currentKey()
	c := w2.claims(t, time.Hour)
	c["nbf"] = w2.hubClock.Now().Add(time.Hour).Unix()
	wantErr(t, w2.allow(sign(t, priv, kid, c), datasetA, ActionView), ErrNotYetValid)
	c["nbf"] = w2.hubClock.Now().Unix()
	wantAllowed(t, w2.allow(sign(t, priv, kid, c), datasetA, ActionView))
}

func TestRevoked(t *testing.T) {
	w := newWorld(t)
	iss := w.issue(t, datasetA, AccessDownload, 24*time.Hour)
	other := w.issue(t, datasetA, AccessDownload, 24*time.Hour)
	before, err := w.is.UpdateMessage() // a state without the revocation
	if err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, w.allow(iss.Token, datasetA, ActionDownload))
	if err := w.is.Revoke(iss.JTI, iss.Expires, "ethics approval withdrawn"); err != nil {
		t.Fatal(err)
	}
	if l := w.is.Revocations(); l.Version != 1 || len(l.Entries) != 1 || l.Entries[0].JTI != iss.JTI {
		t.Fatalf("revocation list %+v", l)
	}
	// Revoking again changes nothing.
	if err := w.is.Revoke(iss.JTI, iss.Expires, "again"); err != nil || w.is.Revocations().Version != 1 {
		t.Fatalf("second revoke: %v, version %d", err, w.is.Revocations().Version)
	}
	wantAllowed(t, w.allow(iss.Token, datasetA, ActionDownload)) // the node has not heard yet
	w.push(t)
	d := w.allow(iss.Token, datasetA, ActionDownload)
	wantErr(t, d, ErrRevoked)
	if !strings.Contains(d.Reason, "ethics approval withdrawn") {
		t.Fatalf("reason %q does not say why", d.Reason)
	}
	wantAllowed(t, w.allow(other.Token, datasetA, ActionDownload))
	// A late or replayed message without the revocation does not undo it.
	if err := w.cache.HandleUpdate(before); err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.allow(iss.Token, datasetA, ActionDownload), ErrRevoked)
	// The hub keeps it across a restart.
	is2, err := OpenIssuer(IssuerOptions{Dir: w.hubDir, Issuer: testIssuer, Now: w.hubClock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if l := is2.Revocations(); l.Version != 1 || len(l.Entries) != 1 {
		t.Fatalf("revocations after restart: %+v", l)
	}
	// Once the visa has expired, hub and node forget the entry.
	w.hubClock.Add(25 * time.Hour)
	w.nodeClock.Add(25 * time.Hour)
	if _, err := w.is.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l := w.is.Revocations(); len(l.Entries) != 0 {
		t.Fatalf("expired revocation kept: %+v", l)
	}
	w.push(t)
	if _, ok := w.cache.revocation(iss.JTI); ok {
		t.Fatal("node kept an expired revocation")
	}
	// Without a known expiry, the entry stays as long as any visa could live.
	if err := w.is.Revoke("unknown-jti", time.Time{}, "no expiry known"); err != nil {
		t.Fatal(err)
	}
	w.hubClock.Add(DefaultMaxLifetime - time.Hour)
	if _, err := w.is.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l := w.is.Revocations(); len(l.Entries) != 1 || l.Entries[0].JTI != "unknown-jti" {
		t.Fatalf("revocations after a long time: %+v", l)
	}
	w.hubClock.Add(2 * time.Hour)
	if _, err := w.is.Maintain(); err != nil {
		t.Fatal(err)
	}
	if l := w.is.Revocations(); len(l.Entries) != 0 {
		t.Fatalf("revocation kept beyond MaxLifetime: %+v", l)
	}
}

func TestForged(t *testing.T) {
	w := newWorld(t)
	iss := w.issue(t, datasetA, AccessDownload, 24*time.Hour)
	parts := strings.Split(iss.Token, ".")
	kid, priv := w.currentKey()
	jwks := w.is.JWKS()

	sig, _ := b64.DecodeString(parts[2])
	sig[10] ^= 1
	flipped := parts[0] + "." + parts[1] + "." + b64.EncodeToString(sig)

	p := payloadOf(t, iss.Token)
	p["ga4gh_visa_v1"].(map[string]any)["value"] = datasetB
	pb, _ := json.Marshal(p)
	swapped := parts[0] + "." + b64.EncodeToString(pb) + "." + parts[2]

	hmacTok := func(secret []byte) string {
		h := `{"alg":"HS256","kid":"` + kid + `","typ":"JWT"}`
		in := b64.EncodeToString([]byte(h)) + "." + parts[1]
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + b64.EncodeToString(m.Sum(nil))
	}
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	attackerKid, _ := Thumbprint(&attacker.PublicKey)
	c := w.claims(t, time.Hour)
	pub, _ := publicJWK(&attacker.PublicKey)
	jwkHeader, _ := json.Marshal(map[string]any{"alg": "ES256", "kid": attackerKid, "jwk": pub})
	cb, _ := json.Marshal(c)
	in := b64.EncodeToString(jwkHeader) + "." + b64.EncodeToString(cb)
	h := sha256.Sum256([]byte(in))
	der, _ := ecdsa.SignASN1(rand.Reader, priv, h[:])
	wrongIss := w.claims(t, time.Hour)
	wrongIss["iss"] = "https://evil.example.org"

	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"signature changed", flipped, ErrBadSignature},
		{"payload changed", swapped, ErrBadSignature},
		{"alg none", rawJWS(`{"alg":"none","kid":"`+kid+`"}`, string(mustDecode(t, parts[1])), nil), ErrBadAlgorithm},
		{"alg none, no signature part", b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1], ErrMalformed},
		{"HS256 keyed with the JWKS", hmacTok(jwks), ErrBadAlgorithm},
		{"HS256 keyed with the x coordinate", hmacTok([]byte(pub.X)), ErrBadAlgorithm},
		{"alg ALG case", rawJWS(`{"ALG":"ES256","alg":"HS256","kid":"`+kid+`"}`, "{}", nil), ErrBadAlgorithm},
		{"only ALG", rawJWS(`{"ALG":"ES256","kid":"`+kid+`"}`, string(mustDecode(t, parts[1])), mustDecode(t, parts[2])), ErrMalformed},
		{"unknown kid", sign(t, attacker, attackerKid, c), ErrUnknownKey},
		{"attacker key under the hub's kid", sign(t, attacker, kid, c), ErrBadSignature},
		{"embedded jwk", in + "." + b64.EncodeToString(make([]byte, 64)), ErrUnknownKey},
		{"DER signature", parts[0] + "." + parts[1] + "." + b64.EncodeToString(der), ErrBadSignature},
		{"other issuer", sign(t, priv, kid, wrongIss), ErrWrongIssuer},
		{"crit", rawJWS(`{"alg":"ES256","kid":"`+kid+`","crit":["exp"]}`, "{}", make([]byte, 64)), ErrMalformed},
		{"padding", iss.Token + "=", ErrMalformed},
		{"line break", parts[0] + "." + parts[1][:5] + "\n" + parts[1][5:] + "." + parts[2], ErrMalformed},
		{"four parts", iss.Token + ".x", ErrMalformed},
		{"empty", "", ErrNoVisa},
		{"huge", strings.Repeat("a", MaxTokenSize+1), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, w.allow(tc.token, datasetA, ActionView), tc.want)
		})
	}
	// The genuine token still passes: the cases above failed for their reason.
	wantAllowed(t, w.allow(iss.Token, datasetA, ActionView))
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDatasetAndAccess(t *testing.T) {
	w := newWorld(t)
	view := w.issue(t, datasetA, AccessView, time.Hour)
	proc := w.issue(t, datasetB, AccessProcess, time.Hour)

	wantErr(t, w.allow(view.Token, datasetB, ActionView), ErrWrongDataset)
	// Case-sensitive full match (Passport 1.2, URL Claims).
	wantErr(t, w.allow(view.Token, strings.ToUpper(datasetA), ActionView), ErrWrongDataset)
	wantErr(t, w.allow(view.Token, datasetA+"/", ActionView), ErrWrongDataset)
	wantErr(t, w.allow(view.Token, datasetA, ActionDownload), ErrWrongAccess)
	wantErr(t, w.allow(view.Token, datasetA, ActionProcess), ErrWrongAccess)
	wantAllowed(t, w.allow(view.Token, datasetA, ActionView))
	wantErr(t, w.allow(proc.Token, datasetB, ActionView), ErrWrongAccess)
	wantErr(t, w.allow(proc.Token, datasetB, ActionDownload), ErrWrongAccess)
	wantAllowed(t, w.allow(proc.Token, datasetB, ActionProcess))
	wantErr(t, w.allow(view.Token, datasetA, "delete"), ErrInvalid)

	d := w.v.Allow(context.Background(), view.Token, Request{Dataset: datasetA, Action: ActionView, Subject: "bob"})
	wantErr(t, d, ErrWrongSubject)
	wantAllowed(t, w.v.Allow(context.Background(), view.Token, Request{Dataset: datasetA, Action: ActionView, Subject: "alice"}))

	for _, tc := range []struct {
		a    Access
		act  Action
		want bool
	}{
		{AccessDownload, ActionView, true}, {AccessDownload, ActionDownload, true}, {AccessDownload, ActionProcess, true},
		{AccessView, ActionView, true}, {AccessView, ActionDownload, false}, {AccessView, ActionProcess, false},
		{AccessProcess, ActionView, false}, {AccessProcess, ActionDownload, false}, {AccessProcess, ActionProcess, true},
		{"", ActionView, false}, {"all", ActionView, false},
	} {
		if got := tc.a.Permits(tc.act); got != tc.want {
			t.Errorf("%q.Permits(%q) = %v", tc.a, tc.act, got)
		}
	}
}

func TestNotAGrant(t *testing.T) {
	w := newWorld(t)
	kid, priv := w.currentKey()
	for name, change := range map[string]func(map[string]any){
		"conditions": func(c map[string]any) {
			c["ga4gh_visa_v1"].(map[string]any)["conditions"] = [][]map[string]string{{{"type": "AffiliationAndRole", "value": "const:faculty@uio.no"}}}
		},
		"other type":       func(c map[string]any) { c["ga4gh_visa_v1"].(map[string]any)["type"] = "ResearcherStatus" },
		"no by":            func(c map[string]any) { delete(c["ga4gh_visa_v1"].(map[string]any), "by") },
		"by self":          func(c map[string]any) { c["ga4gh_visa_v1"].(map[string]any)["by"] = "self" },
		"no access model":  func(c map[string]any) { delete(c, "cie_access") },
		"bad access model": func(c map[string]any) { c["cie_access"] = "everything" },
	} {
		c := w.claims(t, time.Hour)
		change(c)
		wantErr(t, w.allow(sign(t, priv, kid, c), datasetA, ActionView), ErrNotGrant)
		_ = name
	}
	// Empty conditions are no conditions.
	c := w.claims(t, time.Hour)
	c["ga4gh_visa_v1"].(map[string]any)["conditions"] = []any{}
	wantAllowed(t, w.allow(sign(t, priv, kid, c), datasetA, ActionView))
	// A missing required claim is malformed.
	c = w.claims(t, time.Hour)
	delete(c, "exp")
	wantErr(t, w.allow(sign(t, priv, kid, c), datasetA, ActionView), ErrMalformed)
}

func TestRotation(t *testing.T) {
	w := newWorld(t)
	old := w.issue(t, datasetA, AccessView, 2*time.Hour)
	k1, priv1 := w.currentKey()
	jwks1, err := ParseJWKS(w.is.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	if len(jwks1) != 2 {
		t.Fatalf("JWKS before rotation has %d keys, want current and next", len(jwks1))
	}
	gen1 := w.is.Generation()
	if err := w.is.Rotate(); err != nil {
		t.Fatal(err)
	}
	k2, _ := w.currentKey()
	if k2 == k1 {
		t.Fatal("rotation kept the signing key")
	}
	if _, ok := jwks1[k2]; !ok {
		t.Fatal("the new signing key was not published before it signed")
	}
	if w.is.Generation() <= gen1 {
		t.Fatal("generation did not grow")
	}
	fresh := w.issue(t, datasetA, AccessView, 2*time.Hour)
	if fresh.KeyID != k2 || old.KeyID != k1 {
		t.Fatalf("signed by %s and %s", old.KeyID, fresh.KeyID)
	}
	// No push yet: the node already holds k2 (published as next).
	requests := w.cache.Requests()
	wantAllowed(t, w.allow(fresh.Token, datasetA, ActionView))
	if w.cache.Requests() != requests {
		t.Fatal("the node had to ask for a key published in advance")
	}
	w.push(t)
	wantAllowed(t, w.allow(old.Token, datasetA, ActionView))

	// Maintenance keeps k1 while its visa is valid...
	w.hubClock.Add(time.Hour)
	if changed, err := w.is.Maintain(); err != nil || changed {
		t.Fatalf("Maintain = %v, %v before the old visa expired", changed, err)
	}
	if keys, _ := ParseJWKS(w.is.JWKS()); keys[k1] == nil {
		t.Fatal("old key dropped while its visa is valid")
	}
	// ...and drops it once it has expired.
	w.hubClock.Add(time.Hour + keyGrace + time.Second)
	if changed, err := w.is.Maintain(); err != nil || !changed {
		t.Fatalf("Maintain = %v, %v after the old visa expired", changed, err)
	}
	keys, err := ParseJWKS(w.is.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	if keys[k1] != nil || keys[k2] == nil || len(keys) != 2 {
		t.Fatalf("JWKS after dropping k1: %v", keys)
	}
	w.push(t)
	// A token signed by k1 that is still within its time is refused: the key is gone.
	w.hub.down.Store(true)
	late := sign(t, priv1, k1, w.claims(t, time.Hour))
	wantErr(t, w.allow(late, datasetA, ActionView), ErrUnknownKey)
	wantAllowed(t, w.allow(fresh.Token, datasetA, ActionView))

	// Scheduled rotation.
	w.hubClock.Add(DefaultRotateEvery)
	if changed, err := w.is.Maintain(); err != nil || !changed {
		t.Fatalf("scheduled Maintain = %v, %v", changed, err)
	}
	if k3, _ := w.currentKey(); k3 == k2 {
		t.Fatal("no rotation after RotateEvery")
	}
	// The ring survives a restart.
	cur := w.is.CurrentKeyID()
	is2, err := OpenIssuer(IssuerOptions{Dir: w.hubDir, Issuer: testIssuer, Now: w.hubClock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if is2.CurrentKeyID() != cur || is2.Generation() != w.is.Generation() || string(is2.JWKS()) != string(w.is.JWKS()) {
		t.Fatal("key ring changed across a restart")
	}
}

func TestUnknownKidRefreshesOnce(t *testing.T) {
	w := newWorld(t)
	// Two rotations the node does not hear of: the new key is unknown to it.
	if err := w.is.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := w.is.Rotate(); err != nil {
		t.Fatal(err)
	}
	iss := w.issue(t, datasetA, AccessView, time.Hour)
	before := w.hub.calls.Load()
	wantAllowed(t, w.allow(iss.Token, datasetA, ActionView))
	if got := w.hub.calls.Load() - before; got != 1 {
		t.Fatalf("%d requests for one unknown key, want 1", got)
	}

	// A flood of tokens with unknown key ids: one request.
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	w.hub.gate = make(chan struct{})
	w.nodeClock.Add(DefaultMinRefreshInterval)
	before = w.hub.calls.Load()
	const n = 50
	done := make(chan Decision, n)
	for i := range n {
		tok := sign(t, attacker, "kid-"+string(rune('a'+i%26)), w.claims(t, time.Hour))
		go func() { done <- w.allow(tok, datasetA, ActionView) }()
	}
	time.Sleep(50 * time.Millisecond) // let them queue behind the first request
	close(w.hub.gate)
	for range n {
		wantErr(t, <-done, ErrUnknownKey)
	}
	if got := w.hub.calls.Load() - before; got != 1 {
		t.Fatalf("%d requests for a flood of unknown key ids, want 1", got)
	}
	// Another one soon after: no request at all.
	tok := sign(t, attacker, "kid-z", w.claims(t, time.Hour))
	wantErr(t, w.allow(tok, datasetA, ActionView), ErrUnknownKey)
	if got := w.hub.calls.Load() - before; got != 1 {
		t.Fatalf("%d requests, want still 1 within MinRefreshInterval", got)
	}
	w.nodeClock.Add(DefaultMinRefreshInterval)
	wantErr(t, w.allow(tok, datasetA, ActionView), ErrUnknownKey)
	if got := w.hub.calls.Load() - before; got != 2 {
		t.Fatalf("%d requests, want 2 after MinRefreshInterval", got)
	}
}

func TestNodeCacheSurvivesRestartWithoutHub(t *testing.T) {
	w := newWorld(t)
	iss := w.issue(t, datasetA, AccessDownload, 48*time.Hour)
	revoked := w.issue(t, datasetA, AccessDownload, 48*time.Hour)
	if err := w.is.Revoke(revoked.JTI, revoked.Expires, "test"); err != nil {
		t.Fatal(err)
	}
	w.push(t)
	gen, rver := w.cache.Generation(), w.cache.RevocationVersion()

	// The hub goes away; the node restarts.
	w.hub.down.Store(true)
	w.nodeClock.Add(time.Hour)
	w.openNode(t)
	if err := w.cache.Refresh(context.Background(), "start"); !errors.Is(err, ErrNoHub) {
		t.Fatalf("refresh with the hub down: %v", err)
	}
	if w.cache.Issuer() != testIssuer || w.cache.Generation() != gen || w.cache.RevocationVersion() != rver {
		t.Fatal("cache state not restored")
	}
	wantAllowed(t, w.allow(iss.Token, datasetA, ActionDownload))
	wantErr(t, w.allow(revoked.Token, datasetA, ActionDownload), ErrRevoked)

	// Too long without the hub: refused, since revocations may be missed.
	w.nodeClock.Add(DefaultMaxStale)
	wantErr(t, w.allow(iss.Token, datasetA, ActionDownload), ErrStale)
	w.hub.down.Store(false)
	if err := w.cache.Refresh(context.Background(), "periodic"); err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, w.allow(iss.Token, datasetA, ActionDownload))
}

func TestCacheIgnoresOlderKeySet(t *testing.T) {
	w := newWorld(t)
	old, err := w.is.UpdateMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.is.Rotate(); err != nil {
		t.Fatal(err)
	}
	w.push(t)
	want := w.cache.KeyIDs()
	if err := w.cache.HandleUpdate(old); err != nil {
		t.Fatal(err)
	}
	if got := w.cache.KeyIDs(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("an older key set replaced the newer: %v, want %v", got, want)
	}
	// Garbage and hub errors change nothing.
	for _, bad := range []string{`{`, `{"v":1,"issuer":"x","jwks":{}}`, `{"v":1,"error":"no"}`, `{"v":2}`,
		`{"v":1,"issuer":"https://hub.example.org","jwks":{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"AA","y":"AA"}]}}`} {
		if err := w.cache.HandleUpdate([]byte(bad)); err == nil {
			t.Errorf("update %s accepted", bad)
		}
	}
	if got := w.cache.KeyIDs(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("a bad update changed the keys: %v", got)
	}
}

func TestPassport(t *testing.T) {
	w := newWorld(t)
	a := w.issue(t, datasetA, AccessView, 24*time.Hour)
	b := w.issue(t, datasetB, AccessDownload, 24*time.Hour)
	pp, err := w.is.IssuePassport("alice", []string{a.Token, b.Token}, w.hubClock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantAllowed(t, w.allow(pp, datasetA, ActionView))
	wantAllowed(t, w.allow(pp, datasetB, ActionDownload))
	wantErr(t, w.allow(pp, datasetA, ActionDownload), ErrWrongAccess)
	wantErr(t, w.allow(pp, "urn:cie:dataset:other", ActionView), ErrWrongDataset)

	// An embedded visa that was revoked.
	if err := w.is.Revoke(b.JTI, b.Expires, "withdrawn"); err != nil {
		t.Fatal(err)
	}
	w.push(t)
	wantErr(t, w.allow(pp, datasetB, ActionDownload), ErrRevoked)
	wantAllowed(t, w.allow(pp, datasetA, ActionView))

	// Visas of another subject inside alice's passport are not hers.
	bob, err := w.is.Issue(Grant{Subject: "bob", Dataset: datasetA, Access: AccessDownload, Expires: w.hubClock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	pp2, err := w.is.IssuePassport("alice", []string{bob.Token}, w.hubClock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.allow(pp2, datasetA, ActionDownload), ErrWrongSubject)

	// A passport without its typ, or a passport where a visa should be.
	kid, priv := w.currentKey()
	now := w.hubClock.Now()
	body := map[string]any{"iss": testIssuer, "sub": "alice", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "ga4gh_passport_v1": []string{a.Token}}
	noTyp, err := signES256(priv, jwsHeader{Alg: AlgES256, Kid: kid}, body)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.allow(noTyp, datasetA, ActionView), ErrMalformed)
	nested, err := w.is.IssuePassport("alice", []string{pp}, w.hubClock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.allow(nested, datasetA, ActionView), ErrMalformed)

	// An empty passport; an expired passport.
	empty, err := w.is.IssuePassport("alice", nil, w.hubClock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, w.allow(empty, datasetA, ActionView), ErrNoVisa)
	w.nodeClock.Add(2 * time.Hour)
	wantErr(t, w.allow(pp, datasetA, ActionView), ErrExpired)
}

func TestAuditFailureRefuses(t *testing.T) {
	w := newWorld(t)
	iss := w.issue(t, datasetA, AccessView, time.Hour)
	w.audit.fail = true
	wantErr(t, w.allow(iss.Token, datasetA, ActionView), ErrAudit)
	w.audit.fail = false
	wantAllowed(t, w.allow(iss.Token, datasetA, ActionView))
	// Long outside input is clipped in the log.
	long := strings.Repeat("é", 2000)
	_ = w.v.Allow(context.Background(), iss.Token, Request{Dataset: long, Action: ActionView, Subject: long})
	if e := w.audit.last(t); len(e.Subject) > maxAuditField+3 || len(e.Actor) > maxAuditField+3 || !strings.HasSuffix(e.Subject, "é…") {
		t.Fatalf("audit fields not clipped: %d, %d bytes", len(e.Subject), len(e.Actor))
	}
}

func TestIssueRejects(t *testing.T) {
	w := newWorld(t)
	now := w.hubClock.Now()
	ok := Grant{Subject: "alice", Dataset: datasetA, Access: AccessView, Expires: now.Add(time.Hour)}
	for name, change := range map[string]func(*Grant){
		"no subject":        func(g *Grant) { g.Subject = "" },
		"control character": func(g *Grant) { g.Subject = "a\nb" },
		"relative dataset":  func(g *Grant) { g.Dataset = "datasets/1" },
		"identifier space":  func(g *Grant) { g.Dataset = "oslo 1a2b" },
		"dataset too long":  func(g *Grant) { g.Dataset = "https://x.org/" + strings.Repeat("a", 250) },
		"dataset space":     func(g *Grant) { g.Dataset = "https://x.org/a b" },
		"access":            func(g *Grant) { g.Access = "all" },
		"past":              func(g *Grant) { g.Expires = now.Add(-time.Second) },
		"too long":          func(g *Grant) { g.Expires = now.Add(DefaultMaxLifetime + time.Hour) },
	} {
		g := ok
		change(&g)
		if _, err := w.is.Issue(g); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Issue = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := w.is.Issue(ok); err != nil {
		t.Fatal(err)
	}
	// A hub catalogue identifier is a dataset too, and nodes match it exactly.
	id := ok
	id.Dataset = "oslo-1a2b3c4d5e6f"
	iss, err := w.is.Issue(id)
	if err != nil {
		t.Fatalf("catalogue id: %v", err)
	}
	wantAllowed(t, w.allow(iss.Token, "oslo-1a2b3c4d5e6f", ActionView))
	wantErr(t, w.allow(iss.Token, "oslo-1a2b3c4d5e6", ActionView), ErrWrongDataset)
	if _, err := OpenIssuer(IssuerOptions{Dir: t.TempDir(), Issuer: "hub"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("issuer %q accepted: %v", "hub", err)
	}
}

func TestHandleKeysRequest(t *testing.T) {
	w := newWorld(t)
	var rep struct {
		Error string `json:"error"`
	}
	out := w.is.HandleKeysRequest("valencia", []byte(`{"v":1,"node":"oslo"}`))
	if err := json.Unmarshal(out, &rep); err != nil || rep.Error == "" {
		t.Fatalf("a request naming another node was answered: %s", out)
	}
	out = w.is.HandleKeysRequest("oslo", []byte(`{"v":7,"node":"oslo"}`))
	if err := json.Unmarshal(out, &rep); err != nil || rep.Error == "" {
		t.Fatalf("a request of another version was answered: %s", out)
	}
	if err := w.cache.HandleUpdate(out); err == nil {
		t.Fatal("the node applied an error reply")
	}
}
