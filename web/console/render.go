package console

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"mpg/domain"
)

//go:embed templates/*.html
var templateFiles embed.FS

// page is what every template gets.
type page struct {
	Title   string
	S       *session
	CSRF    string
	Error   string
	Done    string // what the last action did
	Lang    string
	T       map[string]string // the portal's words in the page's language
	Period  string
	Data    any
	Operate bool // the user may act (operator or admin)
	Admin   bool
}

var pages = map[string]*template.Template{}

func init() {
	funcs := template.FuncMap{"pct": func(f float64) string { return trimFloat(f * 100) }}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	names, _ := templateFiles.ReadDir("templates")
	for _, n := range names {
		name := strings.TrimSuffix(n.Name(), ".html")
		if name == "layout" {
			continue
		}
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, "templates/"+n.Name()))
	}
}

// render writes a page; the template runs into a buffer first, so an error is a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.S != nil && p.CSRF == "" {
		p.CSRF = s.csrf(p.S)
		p.Operate = p.S.operator() && p.S.Role.Allows("operator")
		p.Admin = p.S.operator() && p.S.Role.Allows("admin")
	}
	if p.Lang == "" {
		p.Lang = "en"
	}
	if p.T == nil {
		p.T = texts[p.Lang]
	}
	var b bytes.Buffer
	if err := pages[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		s.log.Error("console page", zap.String("page", name), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// refuse answers with a short page saying why.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	s.render(w, r, status, "message", page{Title: http.StatusText(status), Error: why})
}

func (s *Server) money(minor int64) string {
	neg := ""
	if minor < 0 {
		neg, minor = "-", -minor
	}
	return neg + domain.FormatMinor(uint64(minor), s.cfg.Exponent) + " " + s.cfg.Currency
}

func (s *Server) when(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).In(s.cfg.Location).Format("2006-01-02 15:04")
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
