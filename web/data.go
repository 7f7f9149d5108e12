package web

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"

	"mpg/engine"
)

// The page behind the one-time link DATA texts. Opening it (GET) uses nothing, so a link
// preview or a virus scanner cannot burn the link; the button (POST) downloads one zip of
// export.json and the CSV files and uses the link up. The link alone is the credential: it
// went by SMS to that number only, is 256 random bits, lives minutes and works once; asking
// again for the number's last digits would add nothing its holder does not know.
// A used, expired or wrong link gets the same page, which says nothing of whose it was.

var dataTmpl = template.Must(template.New("data").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Your data</title><link rel="stylesheet" href="/checkout/style.css"></head><body><main>
<h1>Your data</h1>
{{if .OK}}<p>Everything mpg holds about you: your profile, accounts, payments, the SMS we sent you and your marketing choices, as export.json and CSV files in one zip.</p>
<p>This link works once: download now.</p>
<form method="post"><button type="submit">Download (zip)</button></form>
{{else}}<p>This link is not valid: it was already used, it expired, or it is wrong.</p>
<p>Send DATA followed by your PIN to the short code for a new one.</p>{{end}}
</main></body></html>
`))

func (s *Server) dataPage(w http.ResponseWriter, r *http.Request) {
	s.setPageHeaders(w)
	ok := s.e.CheckDataLink(r.PathValue("token")) == nil
	if !ok {
		w.WriteHeader(http.StatusGone)
	}
	dataTmpl.Execute(w, struct{ OK bool }{ok})
}

func (s *Server) dataDownload(w http.ResponseWriter, r *http.Request) {
	x, err := s.e.OpenDataLink(r.Context(), "web:data-link", r.PathValue("token"))
	if err != nil {
		s.setPageHeaders(w)
		if errors.Is(err, engine.ErrDataLink) {
			w.WriteHeader(http.StatusGone)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		dataTmpl.Execute(w, struct{ OK bool }{false})
		return
	}
	var b bytes.Buffer
	if err := engine.WriteExportZip(&b, x); err != nil {
		http.Error(w, "the export could not be written", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", `attachment; filename="my-data.zip"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(b.Bytes())
}
