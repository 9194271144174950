package visa

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzVerifyToken: whatever token a caller presents, parsing and verification
// never panic, refuse with one of the package's sentinel errors, and grant
// only a visa the hub signed.
func FuzzVerifyToken(f *testing.F) {
	w := newWorld(f)
	iss, err := w.is.Issue(Grant{Subject: "alice", Dataset: datasetA, Access: AccessView,
		Expires: w.hubClock.Now().Add(time.Hour), RequestID: "r"})
	if err != nil {
		f.Fatal(err)
	}
	pp, err := w.is.IssuePassport("alice", []string{iss.Token}, w.hubClock.Now().Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	kid, _ := w.currentKey()
	f.Add(iss.Token)
	f.Add(pp)
	f.Add(rawJWS(`{"alg":"none","kid":"`+kid+`"}`, `{"iss":"https://hub.example.org"}`, nil))
	f.Add(rawJWS(`{"alg":"HS256","kid":"`+kid+`"}`, `{}`, make([]byte, 32)))
	f.Add(rawJWS(`{"alg":"ES256","kid":"`+kid+`","crit":["x"]}`, `{}`, make([]byte, 64)))
	f.Add(rawJWS(`{"alg":"ES256","kid":"`+kid+`"}`, `{"ga4gh_passport_v1":["a.b.c",null,1]}`, make([]byte, 64)))
	f.Add(rawJWS(`{"alg":"ES256","kid":"`+kid+`"}`, `{"exp":1e400,"iat":-1,"ga4gh_visa_v1":null}`, make([]byte, 64)))
	f.Add(rawJWS(`[]`, `null`, nil))
	f.Add("..")
	f.Add("a.b.c.d")
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.")
	hub := w.hub
	hub.down.Store(true) // no requests to a hub from fuzzed kids
	sentinels := []error{ErrMalformed, ErrBadAlgorithm, ErrBadSignature, ErrUnknownKey, ErrWrongIssuer, ErrExpired,
		ErrNotYetValid, ErrRevoked, ErrNotGrant, ErrWrongDataset, ErrWrongAccess, ErrWrongSubject, ErrNoVisa}
	f.Fuzz(func(t *testing.T, token string) {
		if _, err := parseJWS(token, MaxTokenSize); err != nil && !errors.Is(err, ErrMalformed) &&
			!errors.Is(err, ErrBadAlgorithm) && !errors.Is(err, ErrNoVisa) {
			t.Fatalf("parse error %v wraps no sentinel", err)
		}
		d := w.v.Allow(context.Background(), token, Request{Dataset: datasetA, Action: ActionView})
		if d.Allowed {
			if d.Visa == nil || d.Visa.Issuer != testIssuer || d.Visa.Value != datasetA {
				t.Fatalf("granted %+v", d.Visa)
			}
			return
		}
		for _, s := range sentinels {
			if errors.Is(d.Err, s) {
				return
			}
		}
		t.Fatalf("refusal %v wraps no sentinel", d.Err)
	})
}

// FuzzParseJWKS: a key set from the bus never panics the parser, and what it
// accepts are usable P-256 keys within the limits.
func FuzzParseJWKS(f *testing.F) {
	is, err := OpenIssuer(IssuerOptions{Dir: f.TempDir(), Issuer: testIssuer})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(is.JWKS())
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if len(keys) > MaxJWKSKeys {
			t.Fatalf("%d keys", len(keys))
		}
		for kid, k := range keys {
			if kid == "" || k == nil {
				t.Fatalf("key %q: %v", kid, k)
			}
			if _, err := k.Bytes(); err != nil {
				t.Fatalf("key %q unusable: %v", kid, err)
			}
		}
	})
}
