package fraud

import "testing"

// A stored decision scored again under the same rule set decides the same; under a rule
// set with a higher hold threshold, the same values are only reviewed.
func TestRescoreReplaysStoredValues(t *testing.T) {
	c := Default()
	e, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	values := []Hit{{Rule: "payer_count_hour", Value: 40}, {Rule: "new_payee_large", Value: 50}}
	d := e.Rescore(values)
	if d.Score == 0 || len(d.Hits) == 0 {
		t.Fatalf("strong values scored nothing: %+v", d)
	}
	c.Hold, c.Decline = d.Score+1, d.Score+2
	c.Review = min(c.Review, d.Score)
	laxer, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if again := laxer.Rescore(values); again.Score != d.Score || again.Action != Review {
		t.Fatalf("under a laxer rule set: %+v, want the same score reviewed", again)
	}
	if again := e.Rescore(d.Values); again.Action != d.Action || again.Score != d.Score {
		t.Fatalf("replayed %+v, first %+v", again, d)
	}
}
