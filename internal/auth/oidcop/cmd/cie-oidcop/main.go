// Command cie-oidcop runs the embedded OpenID provider of package oidcop on
// its own listener, with a static user list: a second, separately started
// provider for tests (and a small stand-alone issuer for trials).
//
// Usage:
//
//	cie-oidcop CONFIG.json
//
// CONFIG.json:
//
//	{
//	  "listen": "127.0.0.1:0",          // host:port; port 0 picks a free one
//	  "issuer": "",                      // default http://LISTEN-ADDRESS
//	  "key_dir": "/path/to/keys",
//	  "role_claim": "groups",
//	  "title": "Test IdP",
//	  "users": [{"username": "rita", "name": "Rita", "email": "rita@example.org",
//	             "password_hash": "$2a$10$…", "roles": ["/cie/researcher"]}],
//	  "clients": [{"id": "hub", "secret": "…", "redirect_uris": ["http://…/login/oidc/callback"],
//	               "post_logout_redirect_uris": ["http://…/login?flash=logged-out"]}]
//	}
//
// When it serves, it prints one line "ready ISSUER" on standard output. It
// stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cancerimage/cie/internal/auth/oidcop"
)

type fileConfig struct {
	Listen    string              `json:"listen"`
	Issuer    string              `json:"issuer"`
	KeyDir    string              `json:"key_dir"`
	RoleClaim string              `json:"role_claim"`
	Title     string              `json:"title"`
	Users     []oidcop.StaticUser `json:"users"`
	Clients   []oidcop.Client     `json:"clients"`
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cie-oidcop CONFIG.json")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1], log); err != nil {
		log.Error("cie-oidcop", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, path string, log *slog.Logger) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	var cfg fileConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	users, err := oidcop.StaticUsers(cfg.Users)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	defer ln.Close()
	if cfg.Issuer == "" {
		cfg.Issuer = "http://" + ln.Addr().String()
	}
	p, err := oidcop.New(ctx, oidcop.Options{
		Issuer: cfg.Issuer, KeyDir: cfg.KeyDir, Users: users, Clients: cfg.Clients,
		RoleClaim: cfg.RoleClaim, Title: cfg.Title, Log: log,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("ready %s\n", p.Issuer())
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stopping: %w", err)
	}
	return nil
}
