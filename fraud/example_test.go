package fraud_test

import (
	"fmt"
	"time"

	"mpg/fraud"
)

// A subscriber who pays his corner shop 5 EUR now and then pays 8 merchants in ten
// minutes, the last of them new to him, for 60 EUR.
func Example() {
	e, err := fraud.New(fraud.Default())
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC).UnixNano()
	var payer fraud.Activity
	for day := int64(10); day > 0; day-- {
		payer.Observe(fraud.Event{Time: now - day*int64(24*time.Hour), Kind: fraud.Paid, Amount: 500,
			Counterparty: 42, Product: "pay", Channel: "sms", Local: 9})
	}
	for i := int64(0); i < 7; i++ {
		payer.Observe(fraud.Event{Time: now - int64(10*time.Minute) + i*int64(time.Minute), Kind: fraud.Paid,
			Amount: 500, Counterparty: uint64(100 + i), Product: "pay", Channel: "sms", Local: 11})
	}
	d := e.Decide(fraud.Input{Now: now, Amount: 6_000, Product: "pay", Channel: "sms", Payer: &payer,
		PayerID: 7, PayeeID: 999, Local: 12})
	fmt.Println(fraud.Explain(d))
	// Output: payer_count_hour=8 (+25), payer_fan_out=8 (+25), new_payee_large=12.0x (+40): hold
}
