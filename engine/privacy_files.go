package engine

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
)

// ExportFiles are an export as files: export.json (everything, one document) and CSV files
// of its lists (payments, transfers, messages, consents), in a stable order.
func ExportFiles(x Export) ([]string, map[string][]byte, error) {
	js, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	files := map[string][]byte{"export.json": append(js, '\n')}
	pay := [][]string{{"id", "role", "product", "channel", "other_party", "amount_minor", "fee_minor", "refunded_minor", "currency", "reference", "description", "state", "created", "updated", "checkout_seen"}}
	for _, p := range x.Payments {
		pay = append(pay, []string{p.ID, p.Role, p.Product, p.Channel, p.Other, u(p.Amount), u(p.Fee), u(p.Refunded), p.Currency, p.Reference, p.Description, p.State, p.Created, p.Updated, p.Checkout})
	}
	trs := [][]string{{"id", "time", "account", "direction", "amount_minor", "currency", "what", "ref", "payment"}}
	for _, t := range append(append([]ExportTransfer{}, x.Transfers...), x.Holds...) {
		trs = append(trs, []string{t.ID, t.Time, u(t.Account), t.Direction, u(t.Amount), t.Currency, t.What, t.Ref, t.Payment})
	}
	msg := [][]string{{"id", "created", "state", "attempts", "text"}}
	for _, m := range x.Messages {
		msg = append(msg, []string{u(m.ID), m.Created, m.State, u(uint64(m.Attempts)), m.Text})
	}
	con := [][]string{{"time", "granted", "channel", "command", "text", "text_id"}}
	for _, c := range x.Consents {
		con = append(con, []string{strconv.FormatInt(c.Time, 10), strconv.FormatBool(c.Granted), c.Channel, c.Command, c.Text, c.TextID})
	}
	names := []string{"export.json", "payments.csv", "transfers.csv", "messages.csv", "consents.csv"}
	for i, rows := range [][][]string{pay, trs, msg, con} {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.WriteAll(rows)
		if err := w.Error(); err != nil {
			return nil, nil, err
		}
		files[names[i+1]] = b.Bytes()
	}
	return names, files, nil
}

// WriteExportZip writes an export's files as one zip archive.
func WriteExportZip(w io.Writer, x Export) error {
	names, files, err := ExportFiles(x)
	if err != nil {
		return err
	}
	z := zip.NewWriter(w)
	for _, n := range names {
		f, err := z.Create(n)
		if err != nil {
			return err
		}
		if _, err := f.Write(files[n]); err != nil {
			return err
		}
	}
	return z.Close()
}
