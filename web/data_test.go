package web

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"mpg/engine"
)

// The link DATA texts, through the real server: the page opens without using it, the
// button downloads the zip of that number's data once; a second download, a wrong token and
// an unknown one get the same page, naming no one.
func TestDataLinkPage(t *testing.T) {
	f := newFixture(t, Config{})
	const bob = "+33687654321"
	ctx := context.Background()
	for _, text := range []string{"REG 739164 Bob", "DATA 739164"} {
		if err := f.e.Handle(ctx, engine.Inbound{From: bob, To: "1234", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, _ := f.l.Messages(1, 0, 0)
	text, _ := f.e.DeliverText(msgs[0])
	m := regexp.MustCompile(`http://checkout.test(/data/[A-Za-z0-9_-]{43})`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no link in %q", text)
	}
	page := f.srv.URL + m[1]
	for range 2 {
		if code, body := fetch(t, "GET", page); code != 200 || !strings.Contains(body, "Download") {
			t.Fatalf("page: %d %s", code, body)
		}
	}
	code, body := fetch(t, "POST", page)
	if code != 200 {
		t.Fatalf("download: %d %s", code, body)
	}
	z, err := zip.NewReader(strings.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	names := []string{}
	for _, zf := range z.File {
		names = append(names, zf.Name)
		r, _ := zf.Open()
		io.Copy(&all, r)
		r.Close()
	}
	if strings.Join(names, " ") != "export.json payments.csv transfers.csv messages.csv consents.csv" ||
		!strings.Contains(all.String(), `"number": "`+bob+`"`) || strings.Contains(all.String(), alice) {
		t.Fatalf("zip %v: %s", names, all.String())
	}
	bad := f.srv.URL + "/data/" + strings.Repeat("A", 43)
	for _, u := range []string{page, bad, f.srv.URL + "/data/x"} {
		for _, method := range []string{"GET", "POST"} {
			code, body := fetch(t, method, u)
			if code != http.StatusGone || !strings.Contains(body, "This link is not valid") || strings.Contains(body, bob) || strings.Contains(body, "Bob") {
				t.Fatalf("%s %s: %d %s", method, u, code, body)
			}
		}
	}
}

func fetch(t *testing.T, method, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if method == "POST" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Body = io.NopCloser(strings.NewReader(url.Values{}.Encode()))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
