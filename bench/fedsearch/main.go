// Command fedsearch measures the latency of a federated search: a hub and N nodes in
// this one process (the real hub and node code, the nodes connected to the hub's bus
// over TCP as separate nodes would be), each node with its own SQLite store holding
// the same generated data (package searchscale: about 10,000 studies by default), and
// a researcher asking a three-clause question (female, age at diagnosis in a 20-year
// range, an MR series) through the hub's HTTP API, one question after the other. For
// each N it prints p50/p90/p99/max of the whole search (the POST until every node's
// answer is in) and of the nodes' own answer times as the hub measured them.
//
//	go run ./bench/fedsearch -nodes 10,50,100 -queries 300
//
// bench/fedsearch.sh runs it; the figures go to bench/RESULTS.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/freeport"
	"github.com/cancerimage/cie/internal/hub"
	"github.com/cancerimage/cie/internal/node"
	"github.com/cancerimage/cie/internal/node/migrations"
	"github.com/cancerimage/cie/internal/node/search/searchscale"
	"github.com/cancerimage/cie/internal/store"
)

func main() {
	counts := flag.String("nodes", "10,50,100", "node counts to measure, comma-separated")
	patients := flag.Int("patients", 4600, "generated patients per node (4,600 give about 10,000 studies)")
	queries := flag.Int("queries", 300, "measured searches per node count")
	dir := flag.String("dir", "", "working folder (default: a new temporary one, removed at the end)")
	mapping := flag.String("mapping", "internal/app/demo-clinical-mapping.yaml", "the clinical mapping of the generated table")
	timeout := flag.Duration("timeout", 10*time.Second, "the hub's search deadline")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measured searches here")
	flag.Parse()
	profile = *cpuprofile
	if _, err := run(*counts, *patients, *queries, *dir, *mapping, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "fedsearch:", err)
		os.Exit(1)
	}
}

// run measures each node count and returns how many node answers were not "ok" in all.
func run(counts string, patients, queries int, dir, mappingPath string, timeout time.Duration) (notOK int, err error) {
	var ns []int
	for _, s := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 999 {
			return 0, fmt.Errorf("-nodes: %q is not a node count (1–999)", s)
		}
		ns = append(ns, n)
	}
	mapping, err := os.ReadFile(mappingPath)
	if err != nil {
		return 0, fmt.Errorf("reading the clinical mapping (run from the repository's root): %w", err)
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "fedsearch"); err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
	}
	logf, err := os.Create(filepath.Join(dir, "log.txt"))
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()

	template := filepath.Join(dir, "template.db")
	start := time.Now()
	db, err := store.OpenMigrated(ctx, template, log, migrations.FS, migrations.Table)
	if err != nil {
		return 0, err
	}
	studies, err := searchscale.Fill(ctx, db, "bench", 7, patients, string(mapping))
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("generating the node data: %w", err)
	}
	st, err := os.Stat(template)
	if err != nil {
		return 0, err
	}
	fmt.Printf("each node: %d studies of %d generated patients in one published dataset, SQLite %.0f MB (made in %s); %d CPUs\n",
		studies, patients, float64(st.Size())/1e6, time.Since(start).Round(time.Second), runtime.NumCPU())
	fmt.Printf("query: female AND age at diagnosis in [a, a+20] (a drawn from 30–50) AND an MR series; %d searches per node count, one at a time\n", queries)
	fmt.Printf("%6s  %-34s  %-34s  %s\n", "nodes", "search p50 / p90 / p99 / max (ms)", "node answer p50 / p99 / max (ms)", "not ok")
	for _, n := range ns {
		bad, err := phase(ctx, dir, template, n, queries, timeout, log)
		if err != nil {
			return notOK, fmt.Errorf("%d nodes: %w", n, err)
		}
		notOK += bad
	}
	return notOK, nil
}

// phase starts a fresh hub and n nodes, measures, and stops them all.
func phase(ctx context.Context, dir, template string, n, queries int, timeout time.Duration, log *slog.Logger) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		os.RemoveAll(filepath.Join(dir, fmt.Sprintf("nodes-%d", n)))
		os.RemoveAll(filepath.Join(dir, fmt.Sprintf("hub-%d", n)))
	}()

	hcfg := hub.DefaultConfig()
	hcfg.Name = "bench-hub"
	hcfg.DataDir = filepath.Join(dir, fmt.Sprintf("hub-%d", n))
	var err error
	if hcfg.HTTP.Listen, err = ports.Pick(0); err != nil {
		return 0, err
	}
	if hcfg.Bus.Listen, err = ports.Pick(0); err != nil {
		return 0, err
	}
	hcfg.HTTP.PublicURL, hcfg.Bus.PublicURL = "", ""
	hcfg.Search.Timeout = timeout
	if err := os.MkdirAll(hcfg.DataDir, 0o700); err != nil {
		return 0, err
	}
	if err := hcfg.Validate(); err != nil {
		return 0, err
	}
	hdb, err := hub.OpenStore(ctx, hcfg, log)
	if err != nil {
		return 0, err
	}
	keys, err := hub.LoadKeys(hcfg)
	if err != nil {
		hdb.Close()
		return 0, err
	}
	users := auth.NewUsers(hdb)
	token := func(name, role string) (string, error) {
		if err := users.Put(ctx, name, role, auth.RandomSecret(12)); err != nil {
			return "", err
		}
		tok, _, err := users.IssueToken(ctx, name, "bench")
		return tok, err
	}
	researcher, err := token("researcher", auth.RoleResearcher)
	if err != nil {
		hdb.Close()
		return 0, err
	}
	admin, err := token("admin", auth.RolePlatformAdmin)
	if err != nil {
		hdb.Close()
		return 0, err
	}
	creds := make([]bus.Credentials, n)
	for i := range n {
		if creds[i], err = hub.RegisterNode(ctx, hdb, hcfg, keys, nodeName(i), "bench"); err != nil {
			hdb.Close()
			return 0, err
		}
	}
	if err := hdb.Close(); err != nil {
		return 0, err
	}
	h, err := hub.New(ctx, hcfg, log)
	if err != nil {
		return 0, err
	}
	hubDone := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); hubDone <- h.Run(ctx) }()
	base := "http://" + hcfg.HTTP.Listen
	if err := waitFor(ctx, 30*time.Second, hubDone, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); err != nil {
		return 0, fmt.Errorf("hub: %w", err)
	}

	// The nodes: each in its own folder, with its own copy of the generated store.
	nodeDone := make(chan error, n)
	for i := range n {
		ncfg := node.DefaultConfig()
		ncfg.Name = nodeName(i)
		ncfg.DataDir = filepath.Join(dir, fmt.Sprintf("nodes-%d", n), ncfg.Name)
		ncfg.HTTP.Listen = "127.0.0.1:0"
		ncfg.Search.Budget = 1e6 // every search is a new question: the budget must not end the run
		ncfg.Log.Level = "warn"
		if err := os.MkdirAll(ncfg.DataDir, 0o700); err != nil {
			return 0, err
		}
		if err := copyFile(template, filepath.Join(ncfg.DataDir, "node.db")); err != nil {
			return 0, err
		}
		ncfg.Credentials = filepath.Join(ncfg.DataDir, "node.creds")
		if err := bus.WriteCredentials(ncfg.Credentials, creds[i]); err != nil {
			return 0, err
		}
		if err := ncfg.Validate(); err != nil {
			return 0, err
		}
		nd, err := node.New(ctx, ncfg, log.With("node", ncfg.Name))
		if err != nil {
			return 0, err
		}
		wg.Add(1)
		go func() { defer wg.Done(); nodeDone <- nd.Run(ctx) }()
	}
	if err := waitFor(ctx, 120*time.Second, nodeDone, func() bool { return online(base, admin) >= n }); err != nil {
		return 0, fmt.Errorf("waiting for %d nodes online (%d are): %w", n, online(base, admin), err)
	}

	r := rand.New(rand.NewPCG(uint64(n), 1))
	ask := func() (time.Duration, []hub.NodeResult, error) {
		a := 30 + r.IntN(21)
		q := fmt.Sprintf(`{"ast":{"operand":"AND","children":[
			{"key":"SNOMEDCT263495000","type":"EQUALS","value":"SNOMEDCT248152002"},
			{"key":"SNOMEDCT423493009","type":"BETWEEN","value":{"min":%d,"max":%d}},
			{"key":"RID10311","type":"EQUALS","value":"RID10312"}]}}`, a, a+20)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/search", strings.NewReader(q))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+researcher)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		took := time.Since(t0)
		if err != nil {
			return 0, nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, nil, fmt.Errorf("search: %s: %s", resp.Status, bytes.TrimSpace(body))
		}
		var res hub.SearchResult
		if err := json.Unmarshal(body, &res); err != nil {
			return 0, nil, err
		}
		return took, res.Nodes, nil
	}
	// Warm up: the first searches read each node's snapshot if Warm has not yet.
	for range 5 {
		if _, _, err := ask(); err != nil {
			return 0, err
		}
	}
	if profile != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", profile, n))
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
		defer pprof.StopCPUProfile()
	}
	var total, perNode []time.Duration
	notOK := map[string]int{}
	for range queries {
		took, nodes, err := ask()
		if err != nil {
			return 0, err
		}
		total = append(total, took)
		if len(nodes) != n {
			return 0, fmt.Errorf("%d node results, want %d", len(nodes), n)
		}
		for _, nr := range nodes {
			if nr.Status != fed.SearchOK {
				notOK[nr.Status+": "+nr.Message]++
				continue
			}
			perNode = append(perNode, time.Duration(nr.ElapsedMS)*time.Millisecond)
		}
	}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) }
	q := func(v []time.Duration, p float64) time.Duration {
		if len(v) == 0 {
			return 0
		}
		slices.Sort(v)
		return v[min(len(v)-1, int(p*float64(len(v))))]
	}
	bad := 0
	for _, c := range notOK {
		bad += c
	}
	fmt.Printf("%6d  %-34s  %-34s  %d of %d answers\n", n,
		strings.Join([]string{ms(q(total, .5)), ms(q(total, .9)), ms(q(total, .99)), ms(q(total, 1))}, " / "),
		strings.Join([]string{ms(q(perNode, .5)), ms(q(perNode, .99)), ms(q(perNode, 1))}, " / "), bad, n*queries)
	for m, c := range notOK {
		fmt.Printf("        %d× %s\n", c, m)
	}
	return bad, nil
}

// ports hands out the hub's addresses, each once.
var ports freeport.Picker

// profile is where -cpuprofile writes (with the node count appended).
var profile string

func nodeName(i int) string { return fmt.Sprintf("n%03d", i+1) }

// online counts the nodes the hub shows online.
func online(base, token string) int {
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/nodes", nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var body struct {
		Nodes []hub.NodeInfo `json:"nodes"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return 0
	}
	on := 0
	for _, nd := range body.Nodes {
		if nd.State == hub.StateOnline {
			on++
		}
	}
	return on
}

// waitFor polls ok until it holds, a process ends (done) or limit passes.
func waitFor(ctx context.Context, limit time.Duration, done <-chan error, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		select {
		case err := <-done:
			return fmt.Errorf("stopped while starting: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", limit)
		}
	}
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}
