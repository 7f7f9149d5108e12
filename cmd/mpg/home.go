package main

import (
	"html/template"
	"net/http"
	"strings"
)

// homePage is what `GET /` on the operator listener answers: what the daemon is, which
// listeners are on, and links to the endpoints, for an operator who opens the address in a
// browser or curls it.
var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mpg {{.Version}}</title></head>
<body>
<h1>mpg {{.Version}}</h1>
<p>The mpg daemon: SMS payment commands texted to {{.ShortCode}}, answered over SMPP, kept on a double-entry ledger.</p>
<h2>Listeners</h2>
<ul>
<li>Operator endpoints (this page): {{.HTTPAddr}}</li>
<li>SMSC (SMPP): {{.SMSC}}</li>
{{if .MerchantAddr}}<li>Merchant API and checkout pages: {{.MerchantAddr}}, public at <a href="{{.MerchantURL}}/">{{.MerchantURL}}</a></li>
{{else}}<li>Merchant API and checkout pages: off (set [merchant] addr)</li>
{{end}}{{if .ConsoleAddr}}<li>Operator console and merchant portal: {{.ConsoleAddr}} (/login, /portal/login)</li>
{{else}}<li>Operator console and merchant portal: off (set [console] addr)</li>
{{end}}{{if .BankAddr}}<li>Bank link for DEBIT (ISO 8583): {{.BankAddr}}</li>
{{else}}<li>Bank link for DEBIT: off (set [bank] addr)</li>
{{end}}</ul>
<h2>Endpoints</h2>
<ul>
<li><a href="/metrics">/metrics</a>: Prometheus metrics (mpg, Go runtime, process)</li>
<li><a href="/healthz">/healthz</a>: the process answers</li>
<li><a href="/readyz">/readyz</a>: the ledger runs and the daemon is bound to the SMSC</li>
{{if .MerchantAddr}}<li><a href="{{.MerchantURL}}/openapi.yaml">{{.MerchantURL}}/openapi.yaml</a>: the merchant API under /v1</li>
<li>{{.MerchantURL}}/checkout/{id}: a checkout page, made with POST /v1/checkouts</li>
{{end}}</ul>
</body></html>
`))

type homeInfo struct {
	Version, ShortCode, HTTPAddr, SMSC, MerchantAddr, MerchantURL, BankAddr, ConsoleAddr string
}

// home serves the operator listener's page at "/" exactly; other unknown paths stay 404.
func (d *daemon) home(httpAddr string) http.HandlerFunc {
	info := homeInfo{Version: version, ShortCode: d.cfg.Engine.ShortCode, HTTPAddr: httpAddr, SMSC: d.cfg.SMPP.Addr,
		MerchantAddr: d.merchantAddr, BankAddr: d.cfg.Bank.Addr, ConsoleAddr: d.consoleAddr}
	if d.merchantAddr != "" {
		info.MerchantURL = publicURL(d.cfg.Merchant)
		if d.cfg.Merchant.PublicURL == "" && strings.HasSuffix(d.cfg.Merchant.Addr, ":0") {
			info.MerchantURL = strings.Replace(info.MerchantURL, d.cfg.Merchant.Addr, d.merchantAddr, 1)
		}
	}
	var page strings.Builder
	if err := homePage.Execute(&page, info); err != nil {
		panic(err) // the template and its fields are fixed: a test renders it
	}
	body := page.String()
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(body))
	}
}
