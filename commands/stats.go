package commands

import (
	"strconv"
	"strings"
	"time"

	"mpg/domain"
)

// monthNames are the months as a STATS reply writes them (EN and FR in GSM 03.38).
var monthNames = [3][12]string{
	{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	{"Janv", "Févr", "Mars", "Avr", "Mai", "Juin", "Juil", "Aout", "Sept", "Oct", "Nov", "Déc"},
	{"1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"},
}

// MonthName is a month in a language; "" for no month.
func MonthName(l Lang, m time.Month) string {
	if m < time.January || m > time.December {
		return ""
	}
	return monthNames[l][m-1]
}

// number is an amount without its currency: "98.00", "98,00".
func number(l Lang, m domain.Money) string {
	s := domain.FormatMinor(m.Minor, m.Exponent)
	if mark := l.DecimalMark(); mark != '.' {
		s = strings.Replace(s, ".", string(mark), 1)
	}
	return s
}

// change is ", +26%", or nothing when there is nothing to compare with.
func change(pct int, ok bool) string {
	if !ok {
		return ""
	}
	if pct >= 0 {
		return ", +" + strconv.Itoa(pct) + "%"
	}
	return ", " + strconv.Itoa(pct) + "%"
}

// payments is "1 payment", "12 payments", "12 paiements", "12笔付款".
func payments(l Lang, n int) string {
	switch {
	case l == ZH:
		return strconv.Itoa(n) + "笔付款"
	case l == FR && n <= 1:
		return strconv.Itoa(n) + " paiement"
	case l == FR:
		return strconv.Itoa(n) + " paiements"
	case n == 1:
		return "1 payment"
	}
	return strconv.Itoa(n) + " payments"
}

// othersWord names the rest: the other merchants and the people paid.
var othersWord = [3]string{"others", "autres", "其他"}

// parts is "SHOP42 50.00, EDF 30.00, others 43.45".
func parts(l Lang, ps []Part) string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		name := p.Name
		if name == "" {
			name = othersWord[l]
		}
		out = append(out, name+" "+number(l, p.Amount))
	}
	sep := ", "
	if l == ZH {
		sep = ","
	}
	return strings.Join(out, sep)
}
