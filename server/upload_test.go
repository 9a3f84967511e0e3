package server_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hearth/stanza"
	"hearth/xmpptest"
)

const nsUpload = "urn:xmpp:http:upload:0"

// uploadServer starts a server with web listeners and [upload] settings.
func uploadServer(t *testing.T, uploadTOML string) *xmpptest.Server {
	t.Helper()
	return xmpptest.NewServer(t, webTOML+"\n[upload]\n"+uploadTOML)
}

// requestSlot asks the upload service for a slot and returns the reply.
func requestSlot(c *xmpptest.Client, name string, size int, ctype string) *stanza.Element {
	attrs := fmt.Sprintf(`filename='%s' size='%d'`, name, size)
	if ctype != "" {
		attrs += fmt.Sprintf(` content-type='%s'`, ctype)
	}
	return c.IQ(fmt.Sprintf(`<iq type='get' id='%s' to='upload.localhost'><request xmlns='%s' %s/></iq>`, c.NextID(), nsUpload, attrs))
}

func slotURLs(t testing.TB, reply *stanza.Element) (put, get string) {
	t.Helper()
	slot := reply.Child(nsUpload, "slot")
	if reply.Get("type") != "result" || slot == nil {
		t.Fatalf("slot request failed: %s", reply)
	}
	put, get = slot.Child(nsUpload, "put").Get("url"), slot.Child(nsUpload, "get").Get("url")
	if put == "" || get == "" || put == get {
		t.Fatalf("slot URLs: %s", slot)
	}
	return put, get
}

// localURL points a slot URL (https://localhost:port/...) at the loopback
// address the test server listens on.
func localURL(srv *xmpptest.Server, u string) string {
	_, port, _ := strings.Cut(srv.HTTPS, ":")
	return strings.Replace(u, "https://localhost:"+port, "https://"+srv.HTTPS, 1)
}

func doHTTP(t *testing.T, method, url string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := insecureHTTP().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, got
}

func TestUploadRoundTrip(t *testing.T) {
	t.Parallel()
	srv := uploadServer(t, "max_file_size = 1048576")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")

	items := alice.IQ("<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if !strings.Contains(items.String(), `jid="upload.localhost"`) {
		t.Errorf("server disco#items does not list the upload service: %s", items)
	}
	info := alice.IQ("<iq type='get' id='i2' to='upload.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := info.Child("http://jabber.org/protocol/disco#info", "query")
	if q == nil || !strings.Contains(q.String(), `var="`+nsUpload+`"`) {
		t.Fatalf("upload disco#info: %s", info)
	}
	form, err := stanza.ParseForm(q.Child("jabber:x:data", "x"))
	if err != nil || form.FormType() != nsUpload || form.Value("max-file-size") != "1048576" {
		t.Errorf("max-file-size form: %v %s", err, q)
	}

	data := make([]byte, 300000)
	rand.Read(data)
	put, get := slotURLs(t, requestSlot(alice, "report 1 ünïcode.pdf", len(data), "application/pdf"))
	if !strings.HasPrefix(put, "https://localhost:") || !strings.HasPrefix(get, "https://localhost:") {
		t.Errorf("slot URLs %s, %s: want the https listener", put, get)
	}
	put, get = localURL(srv, put), localURL(srv, get)

	// Before the upload there is nothing to get, and the GET URL does not
	// allow uploading.
	if resp, _ := doHTTP(t, "GET", get, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET before upload: %s", resp.Status)
	}
	if resp, _ := doHTTP(t, "PUT", get, data, map[string]string{"Content-Type": "application/pdf"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("PUT to the GET URL: %s", resp.Status)
	}
	if resp, _ := doHTTP(t, "PUT", put, data, map[string]string{"Content-Type": "text/plain"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT with another content type: %s", resp.Status)
	}
	if resp, _ := doHTTP(t, "PUT", put, data[:1000], map[string]string{"Content-Type": "application/pdf"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT of fewer bytes: %s", resp.Status)
	}
	if resp, _ := doHTTP(t, "PUT", put, append(data, 1), map[string]string{"Content-Type": "application/pdf"}); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT of more bytes: %s", resp.Status)
	}
	resp, _ := doHTTP(t, "PUT", put, data, map[string]string{"Content-Type": "application/pdf"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("PUT without CORS header: %v", resp.Header)
	}
	// One-shot.
	if resp, _ := doHTTP(t, "PUT", put, data, map[string]string{"Content-Type": "application/pdf"}); resp.StatusCode != http.StatusConflict {
		t.Errorf("second PUT: %s", resp.Status)
	}

	resp, got := doHTTP(t, "GET", get, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET: %s, %d bytes, identical %v", resp.Status, len(got), bytes.Equal(got, data))
	}
	h := resp.Header
	for k, want := range map[string]string{
		"Content-Type":                "application/pdf",
		"Content-Length":              fmt.Sprint(len(data)),
		"Access-Control-Allow-Origin": "*",
		"X-Content-Type-Options":      "nosniff",
		"Accept-Ranges":               "bytes",
	} {
		if h.Get(k) != want {
			t.Errorf("GET %s = %q, want %q", k, h.Get(k), want)
		}
	}
	if cd := h.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "filename*=utf-8''report%201%20%C3%BCn%C3%AFcode.pdf") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if cc := h.Get("Cache-Control"); !strings.Contains(cc, "max-age=") || h.Get("ETag") == "" || h.Get("Last-Modified") == "" {
		t.Errorf("caching headers: %v", h)
	}

	// Range and conditional requests.
	resp, got = doHTTP(t, "GET", get, nil, map[string]string{"Range": "bytes=100-199"})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[100:200]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(data)) {
		t.Errorf("range GET: %s %v, %d bytes", resp.Status, resp.Header, len(got))
	}
	if resp, _ := doHTTP(t, "GET", get, nil, map[string]string{"If-None-Match": h.Get("ETag")}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: %s", resp.Status)
	}
	if resp, got := doHTTP(t, "HEAD", get, nil, nil); resp.StatusCode != http.StatusOK || len(got) != 0 || resp.ContentLength != int64(len(data)) {
		t.Errorf("HEAD: %s, length %d", resp.Status, resp.ContentLength)
	}
	// CORS preflight.
	resp, _ = doHTTP(t, "OPTIONS", put, nil, map[string]string{"Origin": "https://web.example", "Access-Control-Request-Method": "PUT"})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Errorf("preflight: %s %v", resp.Status, resp.Header)
	}

	// Images are shown inline.
	img := []byte("\x89PNG\r\n\x1a\nnot really")
	put, get = slotURLs(t, requestSlot(alice, "cat.png", len(img), "image/png"))
	if resp, _ := doHTTP(t, "PUT", localURL(srv, put), img, map[string]string{"Content-Type": "image/png"}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT image: %s", resp.Status)
	}
	resp, got = doHTTP(t, "GET", localURL(srv, get), nil, nil)
	if !bytes.Equal(got, img) || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") {
		t.Errorf("GET image: %v", resp.Header)
	}
}

func isUploadError(reply *stanza.Element, typ, condition string) bool {
	e := stanza.ParseError(reply)
	return reply.Get("type") == "error" && e != nil && e.Type == typ && e.Condition == condition
}

func TestUploadLimits(t *testing.T) {
	t.Parallel()
	srv := uploadServer(t, "max_file_size = 1000\nquota = 1500\ndaily_quota = 1200")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")

	r := requestSlot(alice, "big.bin", 1001, "")
	if !isUploadError(r, "modify", "not-acceptable") {
		t.Fatalf("too large: %s", r)
	}
	ftl := stanza.ParseError(r).App
	if ftl == nil || ftl.Name.Space != nsUpload || ftl.Name.Local != "file-too-large" || ftl.ChildText(nsUpload, "max-file-size") != "1000" {
		t.Errorf("file-too-large element: %s", r)
	}
	for _, bad := range []string{
		`<request xmlns='` + nsUpload + `' size='10'/>`,
		`<request xmlns='` + nsUpload + `' filename='a.txt'/>`,
		`<request xmlns='` + nsUpload + `' filename='a.txt' size='-1'/>`,
		`<request xmlns='` + nsUpload + `' filename='a.txt' size='10' content-type='not a type'/>`,
	} {
		r := alice.IQ("<iq type='get' id='" + alice.NextID() + "' to='upload.localhost'>" + bad + "</iq>")
		if !isUploadError(r, "modify", "bad-request") {
			t.Errorf("%s: %s", bad, r)
		}
	}
	// A set is not a slot request.
	r = alice.IQ("<iq type='set' id='s1' to='upload.localhost'><request xmlns='" + nsUpload + "' filename='a' size='1'/></iq>")
	if !isUploadError(r, "cancel", "service-unavailable") {
		t.Errorf("iq set: %s", r)
	}

	// The daily quota (1200) is reached before the stored one (1500):
	// pending slots count, so two 600-byte slots fill it.
	slotURLs(t, requestSlot(alice, "a.bin", 600, ""))
	slotURLs(t, requestSlot(alice, "b.bin", 600, ""))
	r = requestSlot(alice, "c.bin", 1, "")
	if !isUploadError(r, "wait", "resource-constraint") || stanza.ParseError(r).App == nil || stanza.ParseError(r).App.Get("stamp") == "" {
		t.Errorf("daily quota: %s", r)
	}
}

func TestUploadStoredQuota(t *testing.T) {
	t.Parallel()
	srv := uploadServer(t, "max_file_size = 1000\nquota = 1500\ndaily_quota = 0")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	slotURLs(t, requestSlot(alice, "a.bin", 1000, ""))
	if r := requestSlot(alice, "b.bin", 501, ""); !isUploadError(r, "wait", "resource-constraint") {
		t.Errorf("quota: %s", r)
	}
	slotURLs(t, requestSlot(alice, "b.bin", 500, ""))
}

func TestUploadOnlyLocalAccounts(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, `hosts = ["localhost", "other.localhost"]`+"\n"+webTOML)
	srv.AddUser(t, "mallory@other.localhost", "pw-mallory")
	m := srv.Login(t, "mallory@other.localhost", "pw-mallory", "x")
	r := requestSlot(m, "a.bin", 10, "")
	if !isUploadError(r, "cancel", "not-allowed") {
		t.Errorf("slot for another host's account: %s", r)
	}
}

func TestUploadExpiry(t *testing.T) {
	t.Parallel()
	srv := uploadServer(t, "expire_after = 1\ncleanup_interval = 1\nslot_timeout = 1")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	data := []byte("short-lived")
	put, get := slotURLs(t, requestSlot(alice, "note.txt", len(data), "text/plain"))
	put, get = localURL(srv, put), localURL(srv, get)
	if resp, _ := doHTTP(t, "PUT", put, data, map[string]string{"Content-Type": "text/plain"}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	// An unused slot expires too.
	unusedPut, _ := slotURLs(t, requestSlot(alice, "never.txt", 3, ""))
	dir := filepath.Join(srv.DataDir, "upload", "localhost")
	if files, _ := os.ReadDir(dir); len(files) != 1 {
		t.Fatalf("upload folder holds %d files, want 1", len(files))
	}
	deadline := time.Now().Add(xmpptest.Timeout)
	for {
		files, _ := os.ReadDir(dir)
		resp, _ := doHTTP(t, "GET", get, nil, nil)
		if resp.StatusCode == http.StatusNotFound && len(files) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file not expired: GET %s, %d files left", resp.Status, len(files))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, _ := doHTTP(t, "PUT", localURL(srv, unusedPut), []byte("abc"), nil); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusGone {
		t.Errorf("PUT into an expired slot: %s", resp.Status)
	}
}

func TestUploadWithoutWebListener(t *testing.T) {
	t.Parallel()
	srv := xmpptest.NewServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	items := alice.IQ("<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	if strings.Contains(items.String(), "upload.localhost") {
		t.Errorf("upload service listed without a web listener: %s", items)
	}
}

func TestUploadOverHTTP2(t *testing.T) {
	t.Parallel()
	srv := uploadServer(t, "")
	srv.AddUser(t, "alice", "pw-alice-1")
	alice := srv.Login(t, "alice", "pw-alice-1", "phone")
	client := insecureHTTP()
	client.Transport.(*http.Transport).ForceAttemptHTTP2 = true

	data := bytes.Repeat([]byte("h2 "), 50000)
	put, get := slotURLs(t, requestSlot(alice, "h2.txt", len(data), "text/plain"))
	req, _ := http.NewRequest("PUT", localURL(srv, put), bytes.NewReader(data))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.ProtoMajor != 2 {
		t.Fatalf("PUT over %s: %s", resp.Proto, resp.Status)
	}
	resp, err = client.Get(localURL(srv, get))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || !bytes.Equal(got, data) {
		t.Errorf("GET over %s: %s, identical %v", resp.Proto, resp.Status, bytes.Equal(got, data))
	}
}
