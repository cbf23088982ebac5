package cluster

// UnionFind is a disjoint-set forest over address ids, which the store
// hands out densely from 1, in flat slices (12 bytes per id, no per-id
// allocation). The root of a set is always its smallest member (link by
// index rather than by size), with path halving on every Find: amortised
// O(log n) per operation, and the root is the canonical id at no cost. The canonical id of a
// set is its smallest member, the convention that keeps cluster ids
// stable while membership does not change and makes an incremental
// clustering equal a clustering from scratch.
type UnionFind struct {
	parent []int64 // parent[id]; 0: never seen (ids start at 1)
	size   []int32 // by root; 0 for ids never seen
}

// NewUnionFind returns an empty forest.
func NewUnionFind() *UnionFind { return &UnionFind{} }

// Reserve makes room for ids up to n without growing later.
func (u *UnionFind) Reserve(n int64) { u.grow(n) }

func (u *UnionFind) grow(id int64) {
	if id < int64(len(u.parent)) {
		return
	}
	n := max(id+1, int64(len(u.parent))*2, 1024)
	p := make([]int64, n)
	copy(p, u.parent)
	s := make([]int32, n)
	copy(s, u.size)
	u.parent, u.size = p, s
}

func (u *UnionFind) add(id int64) {
	u.grow(id)
	if u.parent[id] == 0 {
		u.parent[id], u.size[id] = id, 1
	}
}

// Find returns the root of id's set (id itself if it was never seen).
// Ids must be positive.
func (u *UnionFind) Find(id int64) int64 {
	if id >= int64(len(u.parent)) || u.parent[id] == 0 {
		return id
	}
	for u.parent[id] != id {
		u.parent[id] = u.parent[u.parent[id]]
		id = u.parent[id]
	}
	return id
}

// Union joins the sets of a and b (positive ids) and reports whether they
// were apart. The smaller member stays the root, so the root of a set is
// always its canonical id.
func (u *UnionFind) Union(a, b int64) bool {
	u.add(a)
	u.add(b)
	ra, rb := u.Find(a), u.Find(b)
	if ra == rb {
		return false
	}
	if rb < ra {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
	u.size[rb] = 0
	return true
}

// Canonical returns the id of id's set: its smallest member.
func (u *UnionFind) Canonical(id int64) int64 { return u.Find(id) }

// Size returns the number of members of id's set (1 if never seen).
func (u *UnionFind) Size(id int64) int64 {
	r := u.Find(id)
	if r < int64(len(u.size)) && u.size[r] > 0 {
		return int64(u.size[r])
	}
	return 1
}

// Components returns every set of two or more members, keyed by its
// canonical id.
func (u *UnionFind) Components() map[int64][]int64 {
	out := map[int64][]int64{}
	for id := int64(1); id < int64(len(u.parent)); id++ {
		if u.parent[id] == 0 {
			continue
		}
		if r := u.Find(id); u.size[r] > 1 {
			out[r] = append(out[r], id)
		}
	}
	return out
}

// Bytes returns the memory the forest holds.
func (u *UnionFind) Bytes() int64 { return int64(cap(u.parent))*8 + int64(cap(u.size))*4 }
