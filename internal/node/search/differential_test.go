package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cancerimage/cie/internal/cdm"
	"github.com/cancerimage/cie/internal/query"
)

// randomQuery writes a random query over the keys the node supports: up to two levels
// of AND/OR, every operator each key takes, codes and numbers drawn from the key's
// vocabulary and plausible ranges.
func randomQuery(r *rand.Rand) string {
	var keys []*query.Key
	for _, k := range query.Keys() {
		if kk, _ := query.LookupKey(k); Supported(k) {
			keys = append(keys, kk)
		}
	}
	num := func(k *query.Key) float64 {
		switch k.Concept {
		case query.ConceptAgeAtDiagnosis:
			return float64(20 + r.IntN(70))
		case query.ConceptYearOfDiagnosis:
			return float64(2000 + r.IntN(27))
		}
		return float64(r.IntN(60)) / 2
	}
	leaf := func() map[string]any {
		k := keys[r.IntN(len(keys))]
		op := k.Ops[r.IntN(len(k.Ops))]
		l := map[string]any{"key": k.Key, "type": string(op)}
		switch {
		case op == query.Contains:
			l["value"] = []string{"siemens", "GE", "Philips", "canon", "x"}[r.IntN(5)]
		case op == query.In:
			n := 2 + r.IntN(2)
			if n > len(k.Terms) {
				n = len(k.Terms)
			}
			var codes []string
			for _, i := range r.Perm(len(k.Terms))[:n] {
				codes = append(codes, k.Terms[i].Key)
			}
			l["value"] = codes
			if len(codes) < 2 {
				l["type"], l["value"] = string(query.Equals), codes[0]
			}
		case k.Field == query.FieldNumber && op == query.Between:
			a, b := num(k), num(k)
			l["value"] = map[string]float64{"min": min(a, b), "max": max(a, b)}
		case k.Field == query.FieldNumber:
			l["value"] = num(k)
		default:
			l["value"] = k.Terms[r.IntN(len(k.Terms))].Key
		}
		return l
	}
	var node func(depth int) map[string]any
	node = func(depth int) map[string]any {
		op := []string{"AND", "OR"}[r.IntN(2)]
		var children []any
		for range 1 + r.IntN(3) {
			if depth < 2 && r.IntN(3) == 0 {
				children = append(children, node(depth+1))
			} else {
				children = append(children, leaf())
			}
		}
		return map[string]any{"operand": op, "children": children}
	}
	b, err := json.Marshal(map[string]any{"ast": node(1)})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestAgainstSQL evaluates random queries on the snapshot and with the reference SQL
// evaluation (oracle_test.go) of the same store, on both engines: the two must agree on
// every count, range and list. The totals of the atlas likewise.
func TestAgainstSQL(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(7, 11))
		nonzero := 0
		for i := range 400 {
			src := randomQuery(r)
			q, err := query.Parse([]byte(src))
			if err != nil {
				t.Fatalf("query %d: %s: %v", i, src, err)
			}
			got, err := f.ev.Evaluate(ctx, q)
			if err != nil {
				t.Fatalf("query %d: %s: %v", i, src, err)
			}
			want, err := sqlEvaluate(ctx, f.a.DB(), q)
			if err != nil {
				t.Fatalf("query %d: %s: SQL: %v", i, src, err)
			}
			for j := range want { // nil and empty lists are the same answer
				for _, l := range []*[]string{&want[j].Genders, &want[j].Modalities, &want[j].BodyParts} {
					if len(*l) == 0 {
						*l = nil
					}
				}
			}
			for j := range got {
				for _, l := range []*[]string{&got[j].Genders, &got[j].Modalities, &got[j].BodyParts} {
					if len(*l) == 0 {
						*l = nil
					}
				}
				if got[j].Studies > 0 {
					nonzero++
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("query %d: %s\nsnapshot: %+v\nSQL:      %+v", i, src, got, want)
			}
		}
		if nonzero < 200 {
			t.Errorf("only %d of the 800 dataset answers match anything: the random queries do not exercise the data", nonzero)
		}
		got, err := f.ev.Totals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, err := sqlTotals(ctx, f.a.DB())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || got.Studies == 0 {
			t.Errorf("totals %+v, SQL %+v", got, want)
		}
	})
}

// TestSnapshotFollowsChanges checks that a change made through the store (a dataset
// unpublished, studies removed from the index) is seen by the next search, and that a
// change the store does not count is seen once MaxAge has passed.
func TestSnapshotFollowsChanges(t *testing.T) {
	f := newFixture(t, t.TempDir()+"/node.db")
	ctx := context.Background()
	q := mustParse(t, qEverything)
	count := func() (ids []string, studies int) {
		t.Helper()
		res, err := f.ev.Evaluate(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			ids = append(ids, r.Dataset)
			studies += r.Studies
		}
		return ids, studies
	}
	ids, before := count()
	if len(ids) != 2 || !slices.Contains(ids, f.ct) || !slices.Contains(ids, f.mr) || before == 0 {
		t.Fatalf("datasets %v, %d studies", ids, before)
	}
	// Removing every instance of one study through the index: one study fewer.
	rows, err := f.a.DB().Query(ctx, `SELECT i.sop_uid FROM instances i JOIN dataset_studies ds ON ds.study_uid = i.study_uid
		WHERE ds.dataset_id = ? AND i.study_uid = (SELECT MIN(study_uid) FROM dataset_studies WHERE dataset_id = ?)`, f.mr, f.mr)
	if err != nil {
		t.Fatal(err)
	}
	var sops []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		sops = append(sops, s)
	}
	rows.Close()
	if len(sops) == 0 {
		t.Fatal("no instances")
	}
	for _, s := range sops {
		if err := f.a.Index().Delete(ctx, s, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, after := count(); after != before-1 {
		t.Errorf("%d studies after removing one of %d", after, before)
	}
	// A write the store does not count (as by another process): seen after MaxAge.
	if _, err := f.a.DB().Exec(ctx, `UPDATE datasets SET state = 'invalidated' WHERE id = ?`, f.ct); err != nil {
		t.Fatal(err)
	}
	if ids, _ := count(); len(ids) != 2 {
		t.Fatalf("datasets %v before MaxAge passed", ids)
	}
	f.ev.mu.Lock()
	f.ev.now = func() time.Time { return time.Now().Add(2 * DefaultMaxAge) }
	f.ev.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ids, _ := count() // the first starts the refresh in the background
		if slices.Equal(ids, []string{f.mr}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("datasets %v 10 s after MaxAge passed", ids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConditionLeavesHoldOnOneCondition: under an AND, diagnosis and age (or year) at
// diagnosis must hold on the same condition. A patient diagnosed with one cancer at
// 40–60 who gets a second, lung cancer, at 75 matches "lung cancer AND age 70–80" but
// not "lung cancer AND age 40–60"; the SQL reference agrees, on both engines.
func TestConditionLeavesHoldOnOneCondition(t *testing.T) {
	engines(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		db := f.a.DB()
		const lung = "363358000"
		var pid string
		err := db.QueryRow(ctx, `SELECT MIN(c.patient_id) FROM cdm_cancer_condition c
			JOIN studies st ON st.patient_id = c.patient_id JOIN dataset_studies ds ON ds.study_uid = st.study_uid
			WHERE ds.dataset_id IN (?, ?) AND c.age_at_diagnosis BETWEEN 40 AND 60 AND c.code <> ?
			AND c.patient_id NOT IN (SELECT patient_id FROM cdm_cancer_condition WHERE code = ?)`, f.ct, f.mr, lung, lung).Scan(&pid)
		if err != nil || pid == "" {
			t.Fatalf("no patient aged 40–60 at diagnosis without lung cancer: %q %v", pid, err)
		}
		q := func(lo, hi int) *query.Query {
			return mustParse(t, fmt.Sprintf(`{"ast":{"operand":"AND","children":[
				{"key":"SNOMEDCT439401001","type":"EQUALS","value":"SNOMEDCT%s"},
				{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":%d,"max":%d}}]}}`, lung, lo, hi))
		}
		subjects := func(q *query.Query) (snap, ref int) {
			t.Helper()
			got, err := f.ev.Evaluate(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := sqlEvaluate(ctx, db, q)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				snap += got[i].Subjects
				ref += want[i].Subjects
			}
			return snap, ref
		}
		mid, old := q(40, 60), q(70, 80)
		midBefore, _ := subjects(mid)
		oldBefore, _ := subjects(old)
		if _, err := db.Exec(ctx, `INSERT INTO cdm_cancer_condition (id, patient_id, code_system, code, age_at_diagnosis, year_of_diagnosis, hash, updated_ms)
			VALUES ('test-second-cancer', ?, ?, ?, 75, 2024, '', 0)`, pid, cdm.SystemSNOMED, lung); err != nil {
			t.Fatal(err)
		}
		db.MarkChanged()
		if snap, ref := subjects(mid); snap != midBefore || ref != midBefore {
			t.Errorf("lung cancer at 40–60: %d subjects (SQL %d), before the second cancer %d", snap, ref, midBefore)
		}
		// The same with the diagnosis in an OR of condition leaves (as the explorer sends
		// several codes of one key): still one condition.
		midOr := mustParse(t, fmt.Sprintf(`{"ast":{"operand":"AND","children":[
			{"operand":"OR","children":[
				{"key":"SNOMEDCT439401001","type":"EQUALS","value":"SNOMEDCT%s"},
				{"key":"SNOMEDCT432213005","type":"LOWER_THAN","value":1900}]},
			{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":40,"max":60}}]}}`, lung))
		if snap, ref := subjects(midOr); snap != midBefore || ref != midBefore {
			t.Errorf("(lung cancer or diagnosed before 1900) at 40–60: %d subjects (SQL %d), want %d", snap, ref, midBefore)
		}
		if snap, ref := subjects(old); snap <= oldBefore || ref != snap {
			t.Errorf("lung cancer at 70–80: %d subjects (SQL %d), before the second cancer %d", snap, ref, oldBefore)
		}
		// Under an OR each leaf stands alone: the patient now matches through either.
		either := mustParse(t, fmt.Sprintf(`{"ast":{"operand":"OR","children":[
			{"key":"SNOMEDCT439401001","type":"EQUALS","value":"SNOMEDCT%s"},
			{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":40,"max":60}}]}}`, lung))
		if snap, ref := subjects(either); snap != ref || snap == 0 {
			t.Errorf("lung cancer or 40–60: %d subjects, SQL %d", snap, ref)
		}
	})
}
