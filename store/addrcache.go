package store

// addrKey is an address as a fixed-size, pointer-free map key, so that the
// garbage collector never scans the (multi-million entry) address cache.
// Bitcoin addresses are at most 75 characters (a bech32m witness v1+ program
// of 40 bytes with the "bcrt" prefix); longer ones go to a plain map.
type addrKey struct {
	n uint8
	b [79]byte
}

// addrCache maps addresses to their dictionary ids.
type addrCache struct {
	short map[addrKey]int64
	long  map[string]int64
}

func newAddrCache() *addrCache {
	return &addrCache{short: make(map[addrKey]int64, 1<<14), long: make(map[string]int64)}
}

func (c *addrCache) get(a string) (int64, bool) {
	if len(a) <= len(addrKey{}.b) {
		k := addrKey{n: uint8(len(a))}
		copy(k.b[:], a)
		id, ok := c.short[k]
		return id, ok
	}
	id, ok := c.long[a]
	return id, ok
}

func (c *addrCache) put(a string, id int64) {
	if len(a) <= len(addrKey{}.b) {
		k := addrKey{n: uint8(len(a))}
		copy(k.b[:], a)
		c.short[k] = id
		return
	}
	c.long[a] = id
}

func (c *addrCache) len() int { return len(c.short) + len(c.long) }
