package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/catalogue"
	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/httpx"
	"github.com/cancerimage/cie/internal/store"
)

// onDatasetSync replaces what the catalogue holds for a node by the node's list.
func (h *Hub) onDatasetSync(ctx context.Context, node string, m *nats.Msg) {
	var sync fed.DatasetSync
	if err := fed.Unmarshal(m.Data, &sync); err != nil || sync.Node != node {
		h.log.Warn("bad dataset sync", "node", node, "err", err)
		return
	}
	var ds []catalogue.Dataset
	for _, raw := range sync.Datasets {
		var d catalogue.Dataset
		if err := json.Unmarshal(raw, &d); err != nil {
			h.log.Warn("dataset sync: unreadable dataset", "node", node, "err", err)
			continue
		}
		if d.Node != node || d.State == catalogue.StateDraft {
			h.log.Warn("dataset sync: dataset refused", "node", node, "dataset", d.ID, "its_node", d.Node, "state", d.State)
			continue
		}
		if err := d.Validate(); err != nil {
			h.log.Warn("dataset sync: invalid dataset refused", "node", node, "dataset", d.ID, "err", err)
			continue
		}
		ds = append(ds, d)
	}
	now := time.Now().UnixMilli()
	err := h.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM catalogue WHERE node = ?`, node); err != nil {
			return err
		}
		for _, d := range ds {
			body, err := json.Marshal(d)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO catalogue (id, node, state, body, updated_ms) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO NOTHING`, d.ID, node, string(d.State), string(body), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h.log.Error("dataset sync", "node", node, "err", err)
		return
	}
	h.log.Info("catalogue updated", "node", node, "datasets", len(ds))
}

// catalogueSource is the hub's catalogue as package catalogue reads it (FAIR Data Point).
type catalogueSource struct{ h *Hub }

// Datasets returns every dataset of the catalogue.
func (c catalogueSource) Datasets(ctx context.Context) ([]catalogue.Dataset, error) {
	rows, err := c.h.db.Query(ctx, `SELECT body FROM catalogue ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("reading the catalogue: %w", err)
	}
	defer rows.Close()
	var out []catalogue.Dataset
	for rows.Next() {
		var body string
		var d catalogue.Dataset
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return nil, fmt.Errorf("reading the catalogue: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Dataset returns one dataset.
func (c catalogueSource) Dataset(ctx context.Context, id string) (catalogue.Dataset, error) {
	var body string
	var d catalogue.Dataset
	if err := store.Classify(c.h.db.QueryRow(ctx, `SELECT body FROM catalogue WHERE id = ?`, id).Scan(&body)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return d, fmt.Errorf("dataset %s: %w", id, catalogue.ErrNotFound)
		}
		return d, err
	}
	return d, json.Unmarshal([]byte(body), &d)
}

// catalogueInfo describes the hub's catalogue.
func (h *Hub) catalogueInfo() catalogue.Catalog {
	return catalogue.Catalog{BaseURL: strings.TrimSuffix(h.cfg.HTTP.PublicURL, "/"), ID: "cie", Title: "cie catalogue of " + h.cfg.Name,
		Description: "Datasets of cancer images published by the nodes of this cie federation.",
		Publisher:   catalogue.Publisher{Name: h.cfg.Name},
		// The catalogue's own metadata is open; each dataset names its own licence.
		License:  "https://creativecommons.org/publicdomain/zero/1.0/",
		Homepage: strings.TrimSuffix(h.cfg.HTTP.PublicURL, "/") + "/catalogue"}
}

// apiCatalogue serves GET /api/v1/catalogue and /api/v1/catalogue/{id}: JSON, DCAT-AP
// JSON-LD or Turtle by Accept. No login: the catalogue is public.
func (h *Hub) apiCatalogue(w http.ResponseWriter, r *http.Request) {
	accept := r.Header.Get("Accept")
	switch r.URL.Query().Get("format") { // for links from a page, where Accept cannot be set
	case "json":
		accept = "application/json"
	case "jsonld":
		accept = "application/ld+json"
	case "turtle":
		accept = "text/turtle"
	}
	f, ok := catalogue.Negotiate(accept, catalogue.FormatJSON, catalogue.FormatJSONLD, catalogue.FormatTurtle)
	if !ok {
		httpx.Error(w, http.StatusNotAcceptable, "the catalogue is application/json, application/ld+json or text/turtle; Accept: %s", r.Header.Get("Accept"))
		return
	}
	src := catalogueSource{h}
	cat := h.catalogueInfo()
	w.Header().Set("Content-Type", f.MediaType())
	if id := r.PathValue("id"); id != "" {
		d, err := src.Dataset(r.Context(), id)
		if errors.Is(err, catalogue.ErrNotFound) {
			httpx.Error(w, http.StatusNotFound, "no dataset %q in the catalogue", id)
			return
		}
		if err != nil {
			httpx.Error(w, http.StatusInternalServerError, "%v", err)
			return
		}
		if err := cat.WriteDataset(w, f, d); err != nil {
			h.log.Warn("writing a dataset", "err", err)
		}
		return
	}
	ds, err := src.Datasets(r.Context())
	if err != nil {
		httpx.Error(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if err := cat.WriteCatalog(w, f, ds); err != nil {
		h.log.Warn("writing the catalogue", "err", err)
	}
}
