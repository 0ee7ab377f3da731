// The Go peer micq is measured against (scripts/measure/hit_vs_go_peer.sh): the
// design the write-up in seed/singleflight-article.txt arrived at, written
// as a careful Go engineer would. Identical in-flight loads are coalesced
// with golang.org/x/sync/singleflight, the serialized page is kept in a TTL
// map, and a hit writes those bytes, so the comparison is about the hit
// path and not about re-serializing per request. A load fetches the page
// from an upstream (micq serve --strategy direct: Redis page plus the
// aggregation tier), decodes it and encodes it again with json-iterator,
// the write-up's faster JSON library.
//
// Built by the bench script with Debian's Go packages (GOPATH mode), never
// by CI.
package main

import (
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	jsoniter "github.com/json-iterator/go"
	"golang.org/x/sync/singleflight"
)

type page struct {
	body    []byte
	etag    string
	expires time.Time
}

type server struct {
	upstream string
	ttl      time.Duration
	client   *http.Client
	loads    singleflight.Group

	mu    sync.RWMutex
	pages map[string]*page
}

var fast = jsoniter.ConfigFastest

// load fetches the page for path?query from the upstream and re-encodes it.
func (s *server) load(key string) (*page, error) {
	resp, err := s.client.Get(s.upstream + key)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("upstream answered %d", resp.StatusCode)
	}
	var decoded interface{}
	if err := fast.Unmarshal(raw, &decoded); err != nil {
		return nil, err
	}
	body, err := fast.Marshal(decoded)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write(body)
	p := &page{body: body, etag: fmt.Sprintf("\"%016x\"", h.Sum64()), expires: time.Now().Add(s.ttl)}
	s.mu.Lock()
	s.pages[key] = p
	s.mu.Unlock()
	return p, nil
}

func (s *server) get(key string) (*page, error) {
	s.mu.RLock()
	p := s.pages[key]
	s.mu.RUnlock()
	if p != nil && time.Now().Before(p.expires) {
		return p, nil
	}
	v, err, _ := s.loads.Do(key, func() (interface{}, error) { return s.load(key) })
	if err != nil {
		return nil, err
	}
	return v.(*page), nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/rooms/") ||
		!strings.HasSuffix(r.URL.Path, "/mic-queue") {
		http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
		return
	}
	p, err := s.get(r.URL.RequestURI())
	if err != nil {
		http.Error(w, `{"error":"upstream_unavailable"}`, http.StatusBadGateway)
		return
	}
	h := w.Header()
	h["Etag"] = []string{p.etag}
	h["Cache-Control"] = []string{"no-cache"}
	if r.Header.Get("If-None-Match") == p.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = []string{"application/json"}
	// Without a length net/http would chunk every page larger than its
	// 4 KB buffer.
	h["Content-Length"] = []string{strconv.Itoa(len(p.body))}
	w.Write(p.body)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address:port")
	upstream := flag.String("upstream", "http://127.0.0.1:8080", "base URL the pages are loaded from")
	ttl := flag.Duration("ttl", time.Second, "how long a loaded page is fresh")
	flag.Parse()
	s := &server{upstream: *upstream, ttl: *ttl, client: &http.Client{Timeout: 2 * time.Second},
		pages: map[string]*page{}}
	log.Printf("go peer listening on %s, upstream %s", *listen, *upstream)
	log.Fatal(http.ListenAndServe(*listen, s))
}
