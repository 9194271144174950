package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cancerimage/cie/internal/hub/access"
)

// webhookAttempts is how often a webhook delivery is tried; webhookBackoff the wait
// before the second try, doubled each time.
const (
	webhookAttempts = 4
	webhookQueue    = 1024
)

// webhooks delivers access events to the URL configured for their node (access.webhooks):
// a POST of the event as JSON, retried a few times with backoff; failures are logged and
// never block or fail the change that caused the event.
type webhooks struct {
	urls    map[string]string
	client  *http.Client
	log     *slog.Logger
	backoff time.Duration
	queue   chan access.Event
	wg      sync.WaitGroup
}

func newWebhooks(urls map[string]string, log *slog.Logger) *webhooks {
	return &webhooks{urls: urls, log: log, client: &http.Client{Timeout: 10 * time.Second},
		backoff: time.Second, queue: make(chan access.Event, webhookQueue)}
}

// enqueue hands an event to the sender; it never blocks (a full queue drops the event,
// logged).
func (wh *webhooks) enqueue(e access.Event) {
	if wh.urls[e.Node] == "" {
		return
	}
	select {
	case wh.queue <- e:
	default:
		wh.log.Warn("webhook queue full; event dropped", "node", e.Node, "type", e.Type, "request", e.Request)
	}
}

// run sends queued events until ctx is done, each in its own goroutine so that a slow
// endpoint delays only its own events.
func (wh *webhooks) run(ctx context.Context) {
	defer wh.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-wh.queue:
			wh.wg.Add(1)
			go func() { defer wh.wg.Done(); wh.deliver(ctx, e) }()
		}
	}
}

// deliver posts e to its node's webhook, retrying on network errors and 5xx/429.
func (wh *webhooks) deliver(ctx context.Context, e access.Event) {
	url := wh.urls[e.Node]
	body, err := json.Marshal(e)
	if err != nil {
		wh.log.Error("webhook event", "err", err)
		return
	}
	wait := wh.backoff
	for attempt := 1; ; attempt++ {
		err := wh.post(ctx, url, body, e.Type)
		if err == nil {
			return
		}
		if attempt >= webhookAttempts || ctx.Err() != nil {
			wh.log.Warn("webhook failed; event dropped", "node", e.Node, "url", url, "type", e.Type, "request", e.Request, "attempts", attempt, "err", err)
			return
		}
		wh.log.Info("webhook failed; retrying", "node", e.Node, "url", url, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (wh *webhooks) post(ctx context.Context, url string, body []byte, typ string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cie-hub")
	req.Header.Set("X-Cie-Event", typ)
	resp, err := wh.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
