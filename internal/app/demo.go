package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cancerimage/cie/internal/auth"
	"github.com/cancerimage/cie/internal/bus"
	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/freeport"
	"github.com/cancerimage/cie/internal/hub"
	"github.com/cancerimage/cie/internal/hub/members"
	"github.com/cancerimage/cie/internal/node"
)

// DemoNodes are the names of the demo's nodes.
var DemoNodes = []string{"oslo", "valencia", "linkoping"}

// DemoFile is what `cie demo` writes to DIR/demo.json for scripts.
type DemoFile struct {
	Hub   DemoHub    `json:"hub"`
	Nodes []DemoNode `json:"nodes"`
	Users []DemoUser `json:"users"`
}

// DemoHub describes the demo hub.
type DemoHub struct {
	URL    string `json:"url"`
	Bus    string `json:"bus"`
	Config string `json:"config"`
}

// DemoNode describes a demo node.
type DemoNode struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	DIMSE  string `json:"dimse"` // its DICOM service, "AE@host:port"
	Config string `json:"config"`
}

// DemoUser is a demo login. Node is set for users of one node, who can also
// log in at that node and use its API with the same token.
type DemoUser struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Node     string `json:"node,omitempty"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

// DemoOptions configure Demo.
type DemoOptions struct {
	Dir string    // everything lives under it
	Exe string    // the cie binary to start the roles with
	Out io.Writer // progress and the summary for the person at the terminal
	Log *slog.Logger
	// Ports: 0 picks the default port if it is free, else any free port.
	RandomPorts bool // always pick free ports (tests)
	// Patients is the number of generated patients per node (0: DemoPatients).
	Patients int
}

// Demo runs a hub and three nodes as child processes until ctx is done.
// The first run creates DIR with the configurations, users, node
// credentials and DIR/demo.json; later runs reuse them and their data.
func Demo(ctx context.Context, o DemoOptions) error {
	start := time.Now()
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("demo folder: %w", err)
	}
	o.Dir = dir
	df, err := loadOrInitDemo(ctx, o)
	if err != nil {
		return err
	}
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return fmt.Errorf("creating log folder: %w", err)
	}
	var procs []*child
	stopAll := func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}
	defer stopAll()

	fmt.Fprintf(o.Out, "Starting hub at %s ...\n", df.Hub.URL)
	hp, err := startChild(ctx, o.Exe, "hub", filepath.Join(logDir, "hub.log"), "hub", "--config", df.Hub.Config)
	if err != nil {
		return err
	}
	procs = append(procs, hp)
	if err := waitReady(ctx, df.Hub.URL, hp, 60*time.Second); err != nil {
		return err
	}
	for _, n := range df.Nodes {
		fmt.Fprintf(o.Out, "Starting node %s at %s ...\n", n.Name, n.URL)
		p, err := startChild(ctx, o.Exe, n.Name, filepath.Join(logDir, n.Name+".log"), "node", "--config", n.Config)
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	for i, n := range df.Nodes {
		if err := waitReady(ctx, n.URL, procs[i+1], 60*time.Second); err != nil {
			return err
		}
	}
	admin := df.Users[0]
	if err := waitOnline(ctx, df.Hub.URL, admin.Token, len(df.Nodes), procs, 60*time.Second); err != nil {
		return err
	}
	if err := fillDemo(ctx, o, df); err != nil {
		return err
	}
	if err := importDemoClinical(ctx, o, df); err != nil {
		return err
	}
	if err := publishDemoDatasets(ctx, o, df); err != nil {
		return err
	}
	printSummary(o.Out, df, filepath.Join(dir, "demo.json"), time.Since(start))
	o.Log.Info("demo ready", "seconds", time.Since(start).Seconds())

	exited := make(chan *child, len(procs))
	for _, p := range procs {
		go func(p *child) { <-p.done; exited <- p }(p)
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(o.Out, "\nStopping the demo ...")
		stopAll()
		fmt.Fprintln(o.Out, "Stopped. Run the same command again to continue with the same data.")
		return nil
	case p := <-exited:
		return fmt.Errorf("%s stopped unexpectedly (%v); its log: %s\n%s", p.name, p.err, p.logPath, tail(p.logPath, 15))
	}
}

func printSummary(w io.Writer, df *DemoFile, path string, took time.Duration) {
	fmt.Fprintf(w, "\ncie demo is ready (%.1f s).\n\n", took.Seconds())
	fmt.Fprintf(w, "  Hub:    %s\n", df.Hub.URL)
	for _, n := range df.Nodes {
		fmt.Fprintf(w, "  Node:   %-10s %s   DICOM %s\n", n.Name, n.URL, n.DIMSE)
	}
	fmt.Fprintf(w, "\n  Logins (hub; node users also at their node):\n")
	for _, u := range df.Users {
		fmt.Fprintf(w, "    %-18s %-15s password %s\n", u.Name, u.Role, u.Password)
	}
	fmt.Fprintf(w, "\n  Tokens for the API and scripts: %s\n", path)
	fmt.Fprintf(w, "  Press Ctrl-C to stop.\n\n")
}

// loadOrInitDemo reads DIR/demo.json, creating the demo on first use.
func loadOrInitDemo(ctx context.Context, o DemoOptions) (*DemoFile, error) {
	path := filepath.Join(o.Dir, "demo.json")
	data, err := os.ReadFile(path)
	if err == nil {
		var df DemoFile
		if err := json.Unmarshal(data, &df); err != nil {
			return nil, fmt.Errorf("reading %s: %w (remove the folder to start afresh)", path, err)
		}
		if len(df.Users) == 0 || len(df.Nodes) == 0 {
			return nil, fmt.Errorf("reading %s: no users or nodes (remove the folder to start afresh)", path)
		}
		fmt.Fprintf(o.Out, "Reusing the demo in %s\n", o.Dir)
		return &df, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	fmt.Fprintf(o.Out, "Creating a new demo in %s\n", o.Dir)
	df, err := initDemo(ctx, o)
	if err != nil {
		return nil, err
	}
	out, _ := json.MarshalIndent(df, "", "  ")
	if err := os.WriteFile(path+".tmp", out, 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return df, nil
}

// preferred is the port to ask the picker for: port, or none with random ports.
func preferred(port int, random bool) int {
	if random {
		return 0
	}
	return port
}

func initDemo(ctx context.Context, o DemoOptions) (*DemoFile, error) {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", o.Dir, err)
	}
	var ports freeport.Picker
	httpAddr, err := ports.Pick(preferred(8080, o.RandomPorts))
	if err != nil {
		return nil, err
	}
	busAddr, err := ports.Pick(preferred(4222, o.RandomPorts))
	if err != nil {
		return nil, err
	}
	hcfg := hub.DefaultConfig()
	hcfg.Name = "cie-demo-hub"
	hcfg.DataDir = filepath.Join(o.Dir, "hub")
	hcfg.HTTP.Listen = httpAddr
	hcfg.Bus.Listen = busAddr
	hcfg.OIDC.Embedded = true     // the login page goes through the embedded OpenID provider, over the users below
	hcfg.Access.AutoReview = true // requests go straight to the data holders (no platform review in the demo)
	if err := os.MkdirAll(hcfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", hcfg.DataDir, err)
	}
	hubYAML := filepath.Join(hcfg.DataDir, "hub.yaml")
	if err := config.Write(hubYAML, &hcfg); err != nil {
		return nil, err
	}
	if err := hcfg.Validate(); err != nil {
		return nil, err
	}
	df := &DemoFile{Hub: DemoHub{URL: hcfg.HTTP.PublicURL, Bus: hcfg.Bus.PublicURL, Config: hubYAML}}

	db, err := hub.OpenStore(ctx, hcfg, o.Log)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	keys, err := hub.LoadKeys(hcfg)
	if err != nil {
		return nil, err
	}
	users, member := auth.NewUsers(db), members.New(db)
	add := func(name, role, nodeName string) (DemoUser, error) {
		u := DemoUser{Name: name, Role: role, Node: nodeName, Password: auth.RandomSecret(12)}
		if err := users.Put(ctx, name, role, u.Password); err != nil {
			return u, err
		}
		if nodeName != "" { // the node's data holder and admin decide on its datasets' requests
			if err := member.Set(ctx, name, []string{nodeName}); err != nil {
				return u, err
			}
		}
		tok, _, err := users.IssueToken(ctx, name, "demo")
		if err != nil {
			return u, err
		}
		u.Token = tok
		df.Users = append(df.Users, u)
		return u, nil
	}
	if _, err := add("admin", auth.RolePlatformAdmin, ""); err != nil {
		return nil, err
	}
	if _, err := add("researcher", auth.RoleResearcher, ""); err != nil {
		return nil, err
	}
	for i, name := range DemoNodes {
		holder, err := add(name+"-holder", auth.RoleDataHolder, name)
		if err != nil {
			return nil, err
		}
		nadmin, err := add(name+"-admin", auth.RoleNodeAdmin, name)
		if err != nil {
			return nil, err
		}
		creds, err := hub.RegisterNode(ctx, db, hcfg, keys, name, "demo")
		if err != nil {
			return nil, err
		}
		ncfg := node.DefaultConfig()
		ncfg.Name = name
		ncfg.DataDir = filepath.Join(o.Dir, name)
		if ncfg.HTTP.Listen, err = ports.Pick(preferred(8081+i, o.RandomPorts)); err != nil {
			return nil, err
		}
		if ncfg.DIMSE.Listen, err = ports.Pick(preferred(11112+i, o.RandomPorts)); err != nil {
			return nil, err
		}
		// Research use keeps intervals between dates and cleaned descriptions (the EUCAIM
		// choice); names, IDs, UIDs and the planted identifiers still go.
		ncfg.Deid.Options = []string{"modified-dates", "clean-descriptors", "retain-patient-characteristics"}
		ncfg.DIMSE.AETitle = strings.ToUpper("CIE-" + name)
		if len(ncfg.DIMSE.AETitle) > 16 {
			ncfg.DIMSE.AETitle = ncfg.DIMSE.AETitle[:16]
		}
		if err := os.MkdirAll(ncfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", ncfg.DataDir, err)
		}
		ncfg.Credentials = filepath.Join(ncfg.DataDir, "node.creds")
		if err := bus.WriteCredentials(ncfg.Credentials, creds); err != nil {
			return nil, err
		}
		nodeYAML := filepath.Join(ncfg.DataDir, "node.yaml")
		if err := config.Write(nodeYAML, &ncfg); err != nil {
			return nil, err
		}
		if err := ncfg.Validate(); err != nil {
			return nil, err
		}
		if err := addNodeUsers(ctx, ncfg, o.Log, holder, nadmin); err != nil {
			return nil, err
		}
		df.Nodes = append(df.Nodes, DemoNode{Name: name, URL: ncfg.HTTP.PublicURL, Config: nodeYAML,
			DIMSE: ncfg.DIMSE.AETitle + "@" + ncfg.DIMSE.Listen})
	}
	return df, nil
}

func addNodeUsers(ctx context.Context, cfg node.Config, log *slog.Logger, us ...DemoUser) error {
	db, err := node.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	users := auth.NewUsers(db)
	for _, u := range us {
		if err := users.Put(ctx, u.Name, u.Role, u.Password); err != nil {
			return err
		}
		if _, err := users.ImportToken(ctx, u.Name, "demo", u.Token); err != nil {
			return err
		}
	}
	return nil
}

// child is a role running as a child process.
type child struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	once    sync.Once
}

func startChild(ctx context.Context, exe, name, logPath string, args ...string) (*child, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log %s: %w", logPath, err)
	}
	fmt.Fprintf(lf, "\n---- %s: cie %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(args, " "))
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		lf.Close()
		close(c.done)
	}()
	return c, nil
}

// stop asks the child to stop (SIGTERM), and kills it after 10 s.
func (c *child) stop() {
	c.once.Do(func() {
		select {
		case <-c.done:
			return
		default:
		}
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
}

func waitReady(ctx context.Context, base string, c *child, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return fmt.Errorf("%s exited while starting (%v); its log: %s\n%s", c.name, c.err, c.logPath, tail(c.logPath, 15))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; its log: %s", c.name, limit, c.logPath)
		}
	}
}

func waitOnline(ctx context.Context, hubURL, token string, want int, procs []*child, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hubURL+"/api/v1/nodes", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		online := 0
		if resp, err := http.DefaultClient.Do(req); err == nil {
			var body struct {
				Nodes []hub.NodeInfo `json:"nodes"`
			}
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&body) == nil {
				for _, n := range body.Nodes {
					if n.State == hub.StateOnline {
						online++
					}
				}
			}
			resp.Body.Close()
		}
		if online >= want {
			return nil
		}
		for _, p := range procs {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited (%v); its log: %s\n%s", p.name, p.err, p.logPath, tail(p.logPath, 15))
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d nodes online after %s; see the logs in %s", online, want, limit, filepath.Dir(procs[0].logPath))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
