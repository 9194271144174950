package dimse

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestEchoSCUAgainstServer(t *testing.T) {
	addr, _ := startServer(t, Config{AETitle: "CIE"}, nil, nil)
	h, p := hostPort(t, addr)
	out, err := runTool(t, "echoscu", "-v", "-aet", "ECHOSCU", "-aec", "CIE", h, p)
	if err != nil {
		t.Fatalf("echoscu failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Received Echo Response (Success)") {
		t.Fatalf("echoscu did not report success:\n%s", out)
	}
}

func TestCallingAETitleRejected(t *testing.T) {
	addr, _ := startServer(t, Config{AETitle: "CIE", AllowedCallingAETitles: []string{"PACS1", "PACS2"}}, nil, nil)
	h, p := hostPort(t, addr)
	out, err := runTool(t, "echoscu", "-v", "-aet", "WRONG", "-aec", "CIE", h, p)
	if err == nil {
		t.Fatalf("echoscu -aet WRONG succeeded:\n%s", out)
	}
	if !strings.Contains(out, "Calling AE Title Not Recognized") {
		t.Fatalf("echoscu output does not name the reject reason:\n%s", out)
	}
	if out, err := runTool(t, "echoscu", "-aet", "PACS2", "-aec", "CIE", h, p); err != nil {
		t.Fatalf("echoscu -aet PACS2 (allowed) failed: %v\n%s", err, out)
	}
	// Our SCU sees the same reject.
	_, err = Dial(context.Background(), addr, "WRONG", "CIE", []PresentationContext{{VerificationSOPClass, uncompressedTS}}, nil)
	var rj *RejectError
	if !errors.As(err, &rj) || rj.Result != 1 || rj.Source != 1 || rj.Reason != 3 {
		t.Fatalf("Dial with calling AE WRONG: %v, want reject 1/1/3", err)
	}
}

func TestCalledAETitleRequired(t *testing.T) {
	addr, _ := startServer(t, Config{AETitle: "CIE", RequireCalledAETitle: true}, nil, nil)
	_, err := Dial(context.Background(), addr, "SCU", "OTHER", []PresentationContext{{VerificationSOPClass, uncompressedTS}}, nil)
	var rj *RejectError
	if !errors.As(err, &rj) || rj.Reason != 7 {
		t.Fatalf("Dial with called AE OTHER: %v, want reject reason 7", err)
	}
	as, err := Dial(context.Background(), addr, "SCU", "CIE", []PresentationContext{{VerificationSOPClass, uncompressedTS}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := as.Echo(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := as.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
}
