// Command qido runs a fixed QIDO-RS study search mix against DICOMweb servers, one
// request at a time, alternating the servers request by request, and prints p50/p99
// latency per query class and overall for each server and the ratio of their p50s.
//
// The values (patient IDs, names, dates, accession numbers) are sampled from each
// server's own studies (a de-identifying server holds other values than a plain one),
// at the same positions of each server's study list, so both get the same shapes of
// query with the same selectivity. Every query asks for limit=100 (a page of a UI).
//
//	qido -n 20 orthanc=http://127.0.0.1:8042/dicom-web cie=http://127.0.0.1:8081/dicomweb@TOKEN
//
// With two servers the last column is p50(first) / p50(second): how many times faster
// the second answers.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

type server struct {
	name, base, token string
	lat               map[string][]time.Duration
	hits              map[string]int
	all               []time.Duration
}

type query struct{ class, params string }

func main() {
	n := flag.Int("n", 10, "rounds over the query mix")
	k := flag.Int("k", 10, "distinct values per query class")
	verbose := flag.Bool("v", false, "print every query of the first round with its number of results")
	flag.Parse()
	var servers []*server
	for _, a := range flag.Args() {
		name, rest, ok := strings.Cut(a, "=")
		if !ok {
			fail(fmt.Errorf("argument %q is not NAME=URL[@TOKEN]", a))
		}
		base, tok, _ := strings.Cut(rest, "@")
		servers = append(servers, &server{name: name, base: strings.TrimSuffix(base, "/"), token: tok,
			lat: map[string][]time.Duration{}, hits: map[string]int{}})
	}
	if len(servers) == 0 {
		fail(fmt.Errorf("no servers"))
	}
	mixes := make([][]query, len(servers))
	total := -1
	for i, s := range servers {
		var err error
		var count int
		mixes[i], count, err = s.mix(*k)
		if err != nil {
			fail(fmt.Errorf("%s: %w", s.name, err))
		}
		fmt.Printf("%s: %d studies\n", s.name, count)
		if total >= 0 && count != total {
			fmt.Printf("  warning: the servers hold different numbers of studies\n")
		}
		total = count
	}
	for r := range *n {
		for q := range mixes[0] {
			for j := range servers {
				i := (j + r + q) % len(servers) // alternate who goes first
				s := servers[i]
				d, hits, err := s.search(mixes[i][q].params)
				if err != nil {
					fail(fmt.Errorf("%s: %s: %w", s.name, mixes[i][q].params, err))
				}
				c := mixes[i][q].class
				s.lat[c] = append(s.lat[c], d)
				s.all = append(s.all, d)
				if r == 0 {
					s.hits[c] += hits
					if *verbose {
						fmt.Printf("  %s %s: %d\n", s.name, mixes[i][q].params, hits)
					}
				}
			}
		}
	}
	var classes []string
	seen := map[string]bool{}
	for _, q := range mixes[0] {
		if !seen[q.class] {
			seen[q.class] = true
			classes = append(classes, q.class)
		}
	}
	fmt.Printf("%-24s", "query (p50 / p99 ms)")
	for _, s := range servers {
		fmt.Printf(" %22s", s.name)
	}
	if len(servers) == 2 {
		fmt.Printf("   p50 %s/%s", servers[0].name, servers[1].name)
	}
	fmt.Println()
	row := func(label string, get func(*server) ([]time.Duration, int)) {
		fmt.Printf("%-24s", label)
		var p50s []float64
		for _, s := range servers {
			l, hits := get(s)
			a, b := pct(l, 50), pct(l, 99)
			p50s = append(p50s, a)
			h := ""
			if hits >= 0 {
				h = fmt.Sprintf("[%d]", hits/(*k))
			}
			fmt.Printf(" %8.2f / %7.2f %5s", a, b, h)
		}
		if len(servers) == 2 {
			fmt.Printf("   %6.1fx", p50s[0]/p50s[1])
		}
		fmt.Println()
	}
	for _, c := range classes {
		row(c, func(s *server) ([]time.Duration, int) { return s.lat[c], s.hits[c] })
	}
	row("overall", func(s *server) ([]time.Duration, int) { return s.all, -1 })
	fmt.Printf("([n] = mean number of studies a query of the class returns; %d requests per server)\n", len(servers[0].all))
}

// mix samples k studies of the server, evenly over its study list, and builds the query mix.
func (s *server) mix(k int) ([]query, int, error) {
	var studies []map[string]string
	// Count the studies by paging (QIDO-RS has no count); keep every one's keys.
	for off := 0; ; off += 1000 {
		page, err := s.studies(fmt.Sprintf("limit=1000&offset=%d&includefield=00100020&includefield=00100010&includefield=00080020&includefield=00080050&includefield=00080061", off))
		if err != nil {
			return nil, 0, err
		}
		studies = append(studies, page...)
		if len(page) < 1000 {
			break
		}
	}
	if len(studies) < k {
		return nil, 0, fmt.Errorf("only %d studies", len(studies))
	}
	// A stable order independent of the server's: by study date, then patient ID position.
	sort.SliceStable(studies, func(i, j int) bool { return studies[i]["00080020"] < studies[j]["00080020"] })
	var qs []query
	add := func(class, params string) { qs = append(qs, query{class, params + "&limit=100"}) }
	for i := range k {
		st := studies[(2*i+1)*len(studies)/(2*k)]
		add("PatientID exact", "PatientID="+esc(st["00100020"]))
		name, _, _ := strings.Cut(st["00100010"], "^")
		if r := []rune(name); len(r) > 5 {
			name = string(r[:5])
		}
		add("PatientName wildcard", "PatientName="+esc(name+"*"))
		if d, err := time.Parse("20060102", st["00080020"]); err == nil {
			add("StudyDate range", "StudyDate="+d.AddDate(0, 0, -7).Format("20060102")+"-"+d.Format("20060102"))
		}
		mod := []string{"CT", "MR", "PT"}[i%3]
		add("ModalitiesInStudy", "ModalitiesInStudy="+mod)
		if a := st["00080050"]; a != "" {
			add("AccessionNumber", "AccessionNumber="+esc(a))
		}
		add("paging (limit/offset)", fmt.Sprintf("offset=%d", i*len(studies)/k))
	}
	return qs, len(studies), nil
}

// esc escapes a query value, leaving the DICOM wildcard * as it is (Orthanc does not
// take %2A for one) and writing a space as %20.
func esc(v string) string {
	return strings.NewReplacer("%2A", "*", "+", "%20").Replace(url.QueryEscape(v))
}

func (s *server) get(params string) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodGet, s.base+"/studies?"+params, nil)
	req.Header.Set("Accept", "application/dicom+json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil && resp.StatusCode != 200 && resp.StatusCode != 204 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s", resp.Status, body)
	}
	return resp, err
}

func (s *server) studies(params string) ([]map[string]string, error) {
	resp, err := s.get(params)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var page []map[string]struct {
		Value []json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil && err != io.EOF {
		return nil, err
	}
	var out []map[string]string
	for _, m := range page {
		row := map[string]string{}
		for tag, v := range m {
			if len(v.Value) == 0 {
				continue
			}
			var str string
			var pn struct{ Alphabetic string }
			if json.Unmarshal(v.Value[0], &str) == nil {
				row[tag] = str
			} else if json.Unmarshal(v.Value[0], &pn) == nil {
				row[tag] = pn.Alphabetic
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// search runs one query and returns its latency (until the whole body is read) and hits.
func (s *server) search(params string) (time.Duration, int, error) {
	t := time.Now()
	resp, err := s.get(params)
	if err != nil {
		return 0, 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t)
	if err != nil {
		return 0, 0, err
	}
	var page []json.RawMessage
	if len(body) > 0 {
		if err := json.Unmarshal(body, &page); err != nil {
			return 0, 0, err
		}
	}
	return d, len(page), nil
}

func pct(l []time.Duration, p int) float64 {
	if len(l) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(s[i].Microseconds()) / 1000
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "qido:", err)
	os.Exit(1)
}
