package dicomweb

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Client stores instances in a node through STOW-RS (cie ingest uses it).
type Client struct {
	// BaseURL is the DICOMweb root, e.g. http://127.0.0.1:8081/dicomweb.
	BaseURL string
	// Token is a bearer token of a data holder or node administrator.
	Token string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// Part is one file to store.
type Part struct {
	Name string
	Open func() (io.ReadCloser, error)
}

// StoreResult is the node's answer to one STOW-RS request.
type StoreResult struct {
	// Status is the HTTP status: 200 all stored, 202 some failed, 409 none stored.
	Status int
	// Stored counts the instances stored (or already there), Failed those not stored.
	Stored, Failed int
	// Instances are the SOP Instance UIDs (de-identified) of the instances stored.
	Instances []string
	// Warnings are the node's Warning headers, one per problem (quarantine reasons,
	// duplicates), naming the part by its position in the request.
	Warnings []string
}

// Store sends the parts in one request, streaming them.
func (c *Client) Store(ctx context.Context, parts []Part) (StoreResult, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, p := range parts {
			h := textproto.MIMEHeader{}
			h.Set("Content-Type", "application/dicom")
			w, err := mw.CreatePart(h)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			rc, err := p.Open()
			if err != nil {
				pw.CloseWithError(fmt.Errorf("%s: %w", p.Name, err))
				return
			}
			_, err = io.Copy(w, rc)
			rc.Close()
			if err != nil {
				pw.CloseWithError(fmt.Errorf("%s: %w", p.Name, err))
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(c.BaseURL, "/")+"/studies", pr)
	if err != nil {
		pr.Close()
		return StoreResult{}, err
	}
	req.Header.Set("Content-Type", `multipart/related; type="application/dicom"; boundary=`+mw.Boundary())
	req.Header.Set("Accept", "application/dicom+json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return StoreResult{}, fmt.Errorf("STOW-RS to %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return StoreResult{}, fmt.Errorf("STOW-RS answer: %w", err)
	}
	res := StoreResult{Status: resp.StatusCode}
	for _, w := range resp.Header.Values("Warning") {
		msg := w
		if i := strings.Index(w, `"`); i >= 0 {
			if s, err := strconv.Unquote(w[i:]); err == nil {
				msg = s
			}
		}
		res.Warnings = append(res.Warnings, msg)
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusAccepted, http.StatusConflict:
	default:
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return res, fmt.Errorf("STOW-RS to %s: %s: %s", c.BaseURL, resp.Status, e.Error)
		}
		return res, fmt.Errorf("STOW-RS to %s: %s", c.BaseURL, resp.Status)
	}
	var obj map[string]struct {
		Value []map[string]struct {
			Value []any `json:"Value"`
		} `json:"Value"`
	}
	if err := json.Unmarshal(body, &obj); err != nil {
		return res, fmt.Errorf("STOW-RS answer is not DICOM JSON: %w", err)
	}
	for _, item := range obj["00081199"].Value {
		if v := item["00081155"].Value; len(v) == 1 {
			if uid, ok := v[0].(string); ok {
				res.Instances = append(res.Instances, uid)
			}
		}
	}
	res.Stored = len(obj["00081199"].Value)
	res.Failed = len(obj["00081198"].Value)
	return res, nil
}
