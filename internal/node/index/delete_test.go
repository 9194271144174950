package index

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/dicom"
	"github.com/cancerimage/cie/internal/dicom/tags"
)

// TestDelete removes instances one by one from a filled index and checks every count,
// down to the patient going when their last study does.
func TestDelete(t *testing.T) {
	engines(t, func(t *testing.T, ix *Index) {
		ctx := context.Background()
		t0 := time.Now()
		fill(t, ix) // 3 patients × 2 studies × 2 series × 3 instances of 1000 bytes
		// Study 2.25.12 of patient 1: CT series 2.25.120 and PT series 2.25.121.
		if err := ix.Delete(ctx, "2.25.9999", time.Now()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleting a missing instance: %v, want ErrNotFound", err)
		}
		for _, sop := range []string{"2.25.1211", "2.25.1212"} { // study 2.25.12, series 1, instances 1 and 2
			if err := ix.Delete(ctx, sop, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		st := mustSearch(t, ix, Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: "2.25.12"}})
		if len(st) != 1 || st[0].Study.NumInstances != 4 || st[0].Study.NumSeries != 2 || st[0].Study.Modalities != `CT\PT` {
			t.Fatalf("after 2 of 3 PT instances: %+v", st)
		}
		if err := ix.Delete(ctx, "2.25.1213", time.Now()); err != nil {
			t.Fatal(err)
		}
		st = mustSearch(t, ix, Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: "2.25.12"}})
		if len(st) != 1 || st[0].Study.NumInstances != 3 || st[0].Study.NumSeries != 1 || st[0].Study.Modalities != `CT` {
			t.Fatalf("after the whole PT series: %+v", st[0].Study)
		}
		if se := mustSearch(t, ix, Query{Level: SeriesLevel, Match: map[dicom.Tag]string{tags.SeriesInstanceUID: "2.25.121"}}); len(se) != 0 {
			t.Fatalf("empty series still indexed: %+v", se)
		}
		c, err := ix.Counts(ctx)
		if err != nil || c != (Counts{Patients: 3, Studies: 6, Series: 11, Instances: 33, Bytes: 33000}) {
			t.Fatalf("counts %+v, %v", c, err)
		}
		// Patient 1 loses both studies: the patient goes too.
		for _, sop := range []string{"2.25.1201", "2.25.1202", "2.25.1203", "2.25.1101", "2.25.1102", "2.25.1103", "2.25.1111", "2.25.1112", "2.25.1113"} {
			if err := ix.Delete(ctx, sop, time.Now()); err != nil {
				t.Fatal(sop, err)
			}
		}
		c, err = ix.Counts(ctx)
		if err != nil || c != (Counts{Patients: 2, Studies: 4, Series: 8, Instances: 24, Bytes: 24000}) {
			t.Fatalf("counts %+v, %v", c, err)
		}
		// Sent again: the patient, study and series come back (nothing remembered of
		// them may skip their rows).
		for i := 1; i <= 2; i++ {
			r := Record{PatientID: "CIE001", StudyUID: "2.25.11", SeriesUID: "2.25.110", Modality: "CT",
				SOPUID: fmt.Sprintf("2.25.110%d", i), Size: 1000, BlobKey: "k"}
			if added, err := ix.Put(ctx, r, time.Now()); err != nil || !added {
				t.Fatalf("put again: %v %v", added, err)
			}
		}
		c, err = ix.Counts(ctx)
		if err != nil || c != (Counts{Patients: 3, Studies: 5, Series: 9, Instances: 26, Bytes: 26000}) {
			t.Fatalf("counts after sending again %+v, %v", c, err)
		}
		st = mustSearch(t, ix, Query{Match: map[dicom.Tag]string{tags.StudyInstanceUID: "2.25.11"}})
		if len(st) != 1 || st[0].Study.NumInstances != 2 || st[0].Study.NumSeries != 1 || st[0].Study.Modalities != "CT" {
			t.Fatalf("study sent again: %+v", st)
		}
		recent, err := ix.Since(ctx, t0)
		if err != nil || len(recent) != 26 {
			t.Fatalf("Since: %d instances, %v", len(recent), err)
		}
		if later, err := ix.Since(ctx, time.Now().Add(time.Hour)); err != nil || len(later) != 0 {
			t.Fatalf("Since the future: %d, %v", len(later), err)
		}
	})
}
