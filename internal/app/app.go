package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/cancerimage/cie/internal/config"
	"github.com/cancerimage/cie/internal/hub"
	"github.com/cancerimage/cie/internal/node"
)

// NewLogger returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format ("text" or "json").
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// LoadHubConfig reads a hub configuration file (path may be empty) with
// environment and flag overrides.
func LoadHubConfig(path string, flags map[string]string) (hub.Config, error) {
	cfg := hub.DefaultConfig()
	if err := config.Load(path, &cfg, config.Source{Flags: flags}); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// LoadNodeConfig reads a node configuration file (path may be empty) with
// environment and flag overrides.
func LoadNodeConfig(path string, flags map[string]string) (node.Config, error) {
	cfg := node.DefaultConfig()
	if err := config.Load(path, &cfg, config.Source{Flags: flags}); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// RunHub runs a hub until ctx is done.
func RunHub(ctx context.Context, cfg hub.Config, log *slog.Logger) error {
	h, err := hub.New(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("starting hub: %w", err)
	}
	return h.Run(ctx)
}

// RunNode runs a node until ctx is done.
func RunNode(ctx context.Context, cfg node.Config, log *slog.Logger) error {
	n, err := node.New(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("starting node %s: %w", cfg.Name, err)
	}
	return n.Run(ctx)
}
