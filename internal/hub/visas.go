package hub

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cancerimage/cie/internal/fed"
	"github.com/cancerimage/cie/internal/visa"
)

// openVisaIssuer opens the hub's visa key ring under DATA_DIR/visa.
func (h *Hub) openVisaIssuer() (*visa.Issuer, error) {
	base := strings.TrimSuffix(h.cfg.HTTP.PublicURL, "/")
	return visa.OpenIssuer(visa.IssuerOptions{Dir: filepath.Join(h.cfg.DataDir, "visa"), Issuer: base,
		JWKSURL: base + "/.well-known/jwks.json", Log: h.log.With("part", "visa")})
}

// onVisaKeys answers a node's request for the visa keys and revocations.
func (h *Hub) onVisaKeys(_ context.Context, node string, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	if err := m.Respond(h.visas.HandleKeysRequest(node, m.Data)); err != nil {
		h.log.Warn("answering visa keys", "node", node, "err", err)
	}
}

// pushVisaKeys sends every registered node the current keys and revocations.
func (h *Hub) pushVisaKeys() {
	h.mu.Lock()
	nc := h.nc
	h.mu.Unlock()
	if nc == nil {
		return
	}
	data, err := h.visas.UpdateMessage()
	if err != nil {
		h.log.Error("visa keys update", "err", err)
		return
	}
	for _, n := range h.reg.list() {
		if err := nc.Publish(fed.VisaUpdateSubject(n.Name), data); err != nil {
			h.log.Warn("pushing visa keys", "node", n.Name, "err", err)
		}
	}
}

// jwks serves the hub's visa keys (RFC 7517).
func (h *Hub) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write(h.visas.JWKS())
}

// runVisas keeps the key ring (scheduled rotation, expired keys dropped) and pushes
// changes to the nodes until ctx is done.
func (h *Hub) runVisas(ctx context.Context) {
	h.visas.Run(ctx, time.Hour, h.pushVisaKeys)
}
