package smpp

import "testing"

func TestReceipts(t *testing.T) {
	r, err := ParseReceiptText("id:0A1B2C sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Paid 12.50")
	if err != nil || r.ID != "0A1B2C" || !r.Delivered || !r.Final {
		t.Fatalf("text receipt: %+v %v", r, err)
	}
	if r, _ := ParseReceiptText("id:77 stat:ENROUTE"); r.Final || r.Delivered {
		t.Fatalf("ENROUTE is not final: %+v", r)
	}
	if r, _ := ParseReceiptText("id:77 sub:001 stat:UNDELIV err:001"); !r.Final || r.Delivered || r.State != "UNDELIV" {
		t.Fatalf("UNDELIV: %+v", r)
	}
	if _, err := ParseReceiptText("PAY SHOP42 12.50 1234"); err == nil {
		t.Fatal("an ordinary SMS is not a receipt")
	}
	if r, err := ReceiptFromTLV("abc", 2); err != nil || !r.Delivered {
		t.Fatalf("TLV: %+v %v", r, err)
	}
	if _, err := ReceiptFromTLV("abc", 9); err == nil {
		t.Fatal("message_state 9 is not defined")
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{{"0A1B2C", "0a1b2c", true}, {"ff", "255", true}, {"255", "ff", true}, {"10", "11", false}, {"x1", "1", false}} {
		if SameMessageID(c.a, c.b) != c.same {
			t.Errorf("SameMessageID(%q, %q) != %v", c.a, c.b, c.same)
		}
	}
}
