package fraud

// Rescore scores stored rule values again under this engine's rule set: what it would
// decide today on the same history (a rule it no longer runs scores nothing; one it runs
// that the values lack counts 0). Values are what Decision.Values kept.
func (e *Engine) Rescore(values []Hit) Decision {
	d := Decision{Config: e.version}
	if !e.on {
		return d
	}
	for i := range e.rules {
		r := &e.rules[i]
		h := Hit{Rule: r.def.id, Version: r.version}
		for _, v := range values {
			if v.Rule == h.Rule {
				h.Value = v.Value
				h.Score = score(r.bands, v.Value)
			}
		}
		d.Score += h.Score
		d.Values = append(d.Values, h)
		if h.Score > 0 {
			d.Hits = append(d.Hits, h)
		}
	}
	d.Action = e.action(d.Score)
	return d
}
