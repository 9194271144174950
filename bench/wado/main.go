// Command wado measures WADO-RS series retrieve: it lists every series of a DICOMweb
// server (QIDO-RS /series, paged), then retrieves each one (multipart/related;
// type="application/dicom") with -c clients and prints series/s and MB/s of bodies.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "", "DICOMweb base URL, e.g. http://127.0.0.1:8042/dicom-web")
	token := flag.String("token", "", "bearer token")
	clients := flag.Int("c", 1, "concurrent clients")
	max := flag.Int("max", 0, "retrieve at most this many series (0: all)")
	flag.Parse()
	get := func(url, accept string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Accept", accept)
		if *token != "" {
			req.Header.Set("Authorization", "Bearer "+*token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil && resp.StatusCode != 200 {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			resp.Body.Close()
			return nil, fmt.Errorf("GET %s: %s %s", url, resp.Status, body)
		}
		return resp, err
	}
	type ser struct{ study, series string }
	var all []ser
	for off := 0; ; off += 1000 {
		resp, err := get(fmt.Sprintf("%s/series?limit=1000&offset=%d", *base, off), "application/dicom+json")
		if err != nil {
			fail(err)
		}
		var page []map[string]struct{ Value []any }
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil && err != io.EOF {
			fail(err)
		}
		for _, m := range page {
			all = append(all, ser{m["0020000D"].Value[0].(string), m["0020000E"].Value[0].(string)})
		}
		if len(page) < 1000 {
			break
		}
	}
	if *max > 0 && len(all) > *max {
		all = all[:*max]
	}
	var next, bytes atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	start := time.Now()
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(all) {
					return
				}
				resp, err := get(*base+"/studies/"+all[i].study+"/series/"+all[i].series, `multipart/related; type="application/dicom"`)
				if err == nil {
					var n int64
					n, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					bytes.Add(n)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		fail(firstErr)
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("%d series, %.1f MB in %.2f s: %.1f series/s, %.1f MB/s\n", len(all), float64(bytes.Load())/1e6, secs,
		float64(len(all))/secs, float64(bytes.Load())/1e6/secs)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "wado:", err)
	os.Exit(1)
}
