package mgmt

import (
	"net/http"
	"strings"
	"testing"
)

// TestConsoleBesideAPI: the console is served outside /api/, and a
// failed login asks for basic auth (WWW-Authenticate) unless the request
// comes from a script (X-Requested-With: XMLHttpRequest, as the
// console's do), which gets the same 401 body without the challenge.
func TestConsoleBesideAPI(t *testing.T) {
	_, api := startNode(t)
	base := "http://" + api.Addr().String()
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: %d %q; want the console's page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, c := range []struct {
		xhr       bool
		challenge string
	}{{false, authRealm}, {true, ""}} {
		req, _ := http.NewRequest("GET", base+"/api/whoami", nil)
		req.SetBasicAuth("guest", "wrong")
		if c.xhr {
			req.Header.Set("X-Requested-With", "XMLHttpRequest")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != c.challenge {
			t.Errorf("xhr %v: %d, WWW-Authenticate %q; want 401, %q", c.xhr, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), c.challenge)
		}
	}
}
