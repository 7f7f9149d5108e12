package engine

import (
	"strings"
	"sync"

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
	gen  uint64
	list []cachedPromo
}

type cachedPromo struct {
	p   promo.Promotion
	ver uint64
}

// maxCachedMerchants bounds the cache; past it, it starts again.
const maxCachedMerchants = 10000

// merchantPromos is a merchant's promotions, from the cache when its generation is current.
func (e *Engine) merchantPromos(merchant string) []cachedPromo {
	_, gen, err := e.l.Profile(keyPromoGen + merchant)
	if err != nil {
		return nil
	}
	c := &e.promos
	c.Lock()
	pl, ok := c.m[merchant]
	c.Unlock()
	if ok && pl.gen == gen {
		return pl.list
	}
	pl = promoList{gen: gen}
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
	c.Lock()
	if c.m == nil || len(c.m) >= maxCachedMerchants {
		c.m = map[string]promoList{}
	}
	c.m[merchant] = pl
	c.Unlock()
	return pl.list
}
