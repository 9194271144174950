package visa

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCheckDecideRecord: several tokens are verified once, decided per
// dataset without logging, and the decision is logged once with the resource.
func TestCheckDecideRecord(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a := w.issue(t, datasetA, AccessView, time.Hour)
	b := w.issue(t, datasetB, AccessDownload, time.Hour)
	old := w.issue(t, datasetB, AccessDownload, time.Minute)
	w.nodeClock.Add(time.Hour / 2)
	checked := w.v.Check(ctx, []string{a.Token, "not.a.token", old.Token, b.Token})
	if len(checked) != 4 || checked[1].Visa != nil || !errors.Is(checked[1].Err, ErrMalformed) || !errors.Is(checked[2].Err, ErrExpired) {
		t.Fatalf("checked %+v", checked)
	}
	if n := len(w.audit.events); n != 0 {
		t.Fatalf("Check logged %d events", n)
	}
	wantAllowed(t, Decide(checked, Request{Dataset: datasetB, Action: ActionDownload}))
	wantErr(t, Decide(checked, Request{Dataset: datasetA, Action: ActionDownload}), ErrWrongAccess)
	wantErr(t, Decide(checked, Request{Dataset: "urn:cie:dataset:c", Action: ActionView}), ErrWrongDataset)
	wantErr(t, Decide(checked, Request{Dataset: datasetA, Action: ActionView, Subject: "bob"}), ErrWrongSubject)
	wantErr(t, Decide(nil, Request{Dataset: datasetA, Action: ActionView}), ErrNoVisa)
	wantErr(t, Decide(checked, Request{Action: ActionView}), ErrInvalid)
	if n := len(w.audit.events); n != 0 {
		t.Fatalf("Decide logged %d events", n)
	}

	req := Request{Dataset: datasetA, Action: ActionView, Resource: "/studies/1.2.3/metadata"}
	d := w.v.Record(ctx, req, Decide(checked, req))
	wantAllowed(t, d)
	e := w.audit.last(t)
	if e.Type != EventAllowed || e.Subject != datasetA || e.Fields["resource"] != req.Resource || e.Fields["jti"] != a.JTI {
		t.Fatalf("logged %+v", e)
	}
	// A refusal with no error at all (nothing presented) is logged as such.
	d = w.v.Record(ctx, Request{Action: ActionView, Subject: "mallory", Resource: "/studies"}, Decision{})
	wantErr(t, d, ErrNoVisa)
	if e := w.audit.last(t); e.Type != EventDenied || e.Actor != "mallory" || e.Fields["reason"] != d.Reason {
		t.Fatalf("logged %+v", e)
	}
	// A grant that cannot be logged is refused.
	w.audit.fail = true
	wantErr(t, w.v.Record(ctx, req, Decide(checked, req)), ErrAudit)
}
