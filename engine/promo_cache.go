package engine

import (
	"strings"
	"sync"
	"time"

	"mpg/domain"
	"mpg/promo"
)

// Every PAY to a merchant looks for its promotions. The engine keeps each merchant's list
// (the records and their versions) with the version of the merchant's generation record
// (keyPromoGen), which every promotion made or ended writes: one small read tells whether
// the copy is current, on this daemon or after another's change. A promotion's record
// changes only then, so a copy with the current generation holds the current versions.
type promoCache struct {
	sync.Mutex
	m map[string]promoList
}

type promoList struct {
	gen     uint64
	checked time.Time // when gen was last read
	list    []cachedPromo
}

// promoRecheck is how long a list is used without reading its generation again: a promotion
// made on another daemon applies here that much later at most, and one ended there is
// refused by the payment's guard (its record's version) and computed again afresh.
const promoRecheck = 100 * time.Millisecond

type cachedPromo struct {
	p   promo.Promotion
	ver uint64
}

// maxCachedMerchants bounds the cache; past it, it starts again.
const maxCachedMerchants = 10000

// merchantPromos is a merchant's promotions, from the cache when its generation is current.
func (e *Engine) merchantPromos(merchant string) []cachedPromo {
	c := &e.promos
	c.Lock()
	pl, ok := c.m[merchant]
	c.Unlock()
	if ok && time.Since(pl.checked) < promoRecheck {
		return pl.list
	}
	checked := time.Now()
	_, gen, err := e.l.Profile(keyPromoGen + merchant)
	if err != nil {
		return nil
	}
	if ok && pl.gen == gen {
		c.store(merchant, promoList{gen: gen, checked: checked, list: pl.list})
		return pl.list
	}
	pl = promoList{gen: gen, checked: checked}
	if gen != 0 { // a merchant that never had a promotion has no list to read
		_, err = e.scan(keyMerchantPromos+merchant+":", "", maxPromosPerMerchant, func(r domain.Profile) (bool, error) {
			p, ver, err := e.promotion(r.Owner[strings.LastIndexByte(r.Owner, ':')+1:])
			if err == nil {
				pl.list = append(pl.list, cachedPromo{p, ver})
			}
			return true, nil
		})
		if err != nil {
			return nil
		}
	}
	c.store(merchant, pl)
	return pl.list
}

func (c *promoCache) store(merchant string, pl promoList) {
	c.Lock()
	defer c.Unlock()
	if c.m == nil || len(c.m) >= maxCachedMerchants {
		c.m = map[string]promoList{}
	}
	c.m[merchant] = pl
}

// forget drops every list: a step was refused for a record read stale, perhaps a promotion.
func (c *promoCache) forget() {
	c.Lock()
	c.m = nil
	c.Unlock()
}
