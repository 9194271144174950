package dimse

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// testFind answers C-FIND from a fixed index of 2 studies x 3 series x 4 instances,
// matching PatientID when given (single value) and returning the keys asked for.
type testFind struct {
	mu       sync.Mutex
	canceled int
	levels   []string
	// delay between matches, to give a C-CANCEL time to arrive.
	delay time.Duration
}

func (f *testFind) Find(ctx context.Context, req *FindRequest, yield func(*dicom.Dataset) error) (Status, error) {
	f.mu.Lock()
	f.levels = append(f.levels, req.Level)
	f.mu.Unlock()
	pid := req.Identifier.Text(tags.PatientID)
	for st := 1; st <= 2; st++ {
		for se := 1; se <= 3; se++ {
			for in := 1; in <= 4; in++ {
				switch req.Level {
				case "STUDY":
					if se > 1 || in > 1 {
						continue
					}
				case "SERIES":
					if in > 1 {
						continue
					}
				case "IMAGE":
				default:
					return StatusDataSetMismatch, fmt.Errorf("level %q not supported", req.Level)
				}
				if pid != "" && pid != "PID1" {
					continue
				}
				m := req.NewIdentifier()
				set := func(tag dicom.Tag, vr dicom.VR, v string) {
					if err := m.Set(tag, vr, dicom.PadText(vr, v)); err != nil {
						panic(err) // test data only
					}
				}
				set(tags.QueryRetrieveLevel, dicom.CS, req.Level)
				set(tags.PatientID, dicom.LO, "PID1")
				set(tags.PatientName, dicom.PN, "Doe^Jane")
				set(tags.StudyInstanceUID, dicom.UI, fmt.Sprintf("1.2.3.%d", st))
				if req.Level != "STUDY" {
					set(tags.SeriesInstanceUID, dicom.UI, fmt.Sprintf("1.2.3.%d.%d", st, se))
				}
				if req.Level == "IMAGE" {
					set(tags.SOPInstanceUID, dicom.UI, fmt.Sprintf("1.2.3.%d.%d.%d", st, se, in))
				}
				if err := yield(m); err != nil {
					if errors.Is(err, ErrCanceled) {
						f.mu.Lock()
						f.canceled++
						f.mu.Unlock()
					}
					return StatusCancel, err
				}
				if f.delay > 0 {
					select {
					case <-time.After(f.delay):
					case <-ctx.Done():
					}
				}
			}
		}
	}
	return StatusSuccess, nil
}

func TestFindscu(t *testing.T) {
	find := &testFind{}
	addr, _ := startServer(t, Config{AETitle: "CIE"}, nil, find)
	h, p := hostPort(t, addr)
	want := map[string]int{"STUDY": 2, "SERIES": 6, "IMAGE": 24}
	for _, level := range []string{"STUDY", "SERIES", "IMAGE"} {
		for _, model := range []string{"-S", "-P"} {
			args := []string{"-v", model, "-aet", "FINDSCU", "-aec", "CIE", "-k", "QueryRetrieveLevel=" + level,
				"-k", "PatientID=PID1", "-k", "PatientName", "-k", "StudyInstanceUID", "-k", "SeriesInstanceUID", "-k", "SOPInstanceUID", h, p}
			out, err := runTool(t, "findscu", args...)
			if err != nil {
				t.Fatalf("findscu %s %s: %v\n%s", model, level, err, out)
			}
			n := strings.Count(out, "Find Response:") // the last one is the final response
			if n != want[level] || !strings.Contains(out, "(Success)") {
				t.Fatalf("findscu %s %s: %d pending responses, want %d\n%s", model, level, n, want[level], out)
			}
			if !strings.Contains(out, "Doe^Jane") {
				t.Fatalf("findscu %s %s: no match data in output\n%s", model, level, out)
			}
		}
	}
	// No match for another patient: only the final response.
	out, err := runTool(t, "findscu", "-v", "-S", "-aec", "CIE", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=NOPE", h, p)
	if err != nil || strings.Count(out, "Find Response:") != 0 || !strings.Contains(out, "Final Find Response") {
		t.Fatalf("findscu PatientID=NOPE: %v\n%s", err, out)
	}
}

func TestFindscuCancel(t *testing.T) {
	find := &testFind{delay: 50 * time.Millisecond}
	addr, _ := startServer(t, Config{AETitle: "CIE"}, nil, find)
	h, p := hostPort(t, addr)
	out, err := runTool(t, "findscu", "-v", "-S", "--cancel", "3", "-aec", "CIE", "-k", "QueryRetrieveLevel=IMAGE", "-k", "SOPInstanceUID", h, p)
	if err != nil {
		t.Fatalf("findscu --cancel 3: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?i)Cancel`).MatchString(out) {
		t.Fatalf("findscu output shows no cancel:\n%s", out)
	}
	pending := strings.Count(out, "Find Response:")
	if pending >= 24 || pending < 3 {
		t.Fatalf("%d pending responses after cancel at 3\n%s", pending, out)
	}
	find.mu.Lock()
	defer find.mu.Unlock()
	if find.canceled != 1 {
		t.Fatalf("handler saw %d cancels, want 1\n%s", find.canceled, out)
	}
}

// TestFindSCU runs our SCU's Find against our SCP, with collection and cancellation.
func TestFindSCU(t *testing.T) {
	find := &testFind{delay: 20 * time.Millisecond}
	addr, _ := startServer(t, Config{}, nil, find)
	ctx := context.Background()
	as, err := Dial(ctx, addr, "SCU", "CIE", []PresentationContext{{StudyRootFind, []string{dicom.ExplicitVRLittleEndianUID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer as.Release(ctx)
	q := dicom.NewDataset(dicom.TransferSyntaxFor(dicom.ExplicitVRLittleEndianUID))
	_ = q.Set(tags.QueryRetrieveLevel, dicom.CS, dicom.PadText(dicom.CS, "SERIES"))
	_ = q.Set(tags.SeriesInstanceUID, dicom.UI, nil)
	ms, st, err := as.FindAll(ctx, StudyRootFind, q)
	if err != nil || st != StatusSuccess || len(ms) != 6 {
		t.Fatalf("FindAll: %d matches, %v, %v", len(ms), st, err)
	}
	if got := ms[5].Text(tags.SeriesInstanceUID); got != "1.2.3.2.3" {
		t.Fatalf("last series %q", got)
	}
	stop := errors.New("enough")
	n := 0
	st, err = as.Find(ctx, StudyRootFind, q, func(*dicom.Dataset) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || st != StatusCancel || n != 2 {
		t.Fatalf("Find with cancel: status %v, err %v, %d yields", st, err, n)
	}
	// The association still works.
	ms, st, err = as.FindAll(ctx, StudyRootFind, q)
	if err != nil || st != StatusSuccess || len(ms) != 6 {
		t.Fatalf("FindAll after cancel: %d, %v, %v", len(ms), st, err)
	}
}
