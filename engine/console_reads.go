package engine

import "mpg/domain"

// Account reads one account as it stands now (a merchant's balance in its portal).
func (e *Engine) Account(id uint64) (domain.Account, error) { return e.l.Account(id) }

// AccountsOf lists what an owner (a number, a merchant code) holds, for the console's
// subscriber page.
func (e *Engine) AccountsOf(owner string) []domain.Account { return e.l.AccountsOf(owner) }

// Region is the country national numbers are read in.
func (e *Engine) Region() string { return e.cfg.Region }
