package cluster

// UnionFind is a disjoint-set forest over int64 ids (address ids): union
// by size with path halving. The canonical id of a set is its smallest
// member, the convention that keeps cluster ids stable while membership
// does not change and makes an incremental clustering equal a clustering
// from scratch.
type UnionFind struct {
	parent map[int64]int64
	size   map[int64]int64 // by root
	min    map[int64]int64 // by root: smallest member
}

// NewUnionFind returns an empty forest.
func NewUnionFind() *UnionFind {
	return &UnionFind{parent: map[int64]int64{}, size: map[int64]int64{}, min: map[int64]int64{}}
}

// Find returns the root of id's set (id itself if it was never seen).
func (u *UnionFind) Find(id int64) int64 {
	p, ok := u.parent[id]
	if !ok {
		return id
	}
	for p != id {
		gp := u.parent[p]
		u.parent[id] = gp
		id, p = gp, u.parent[gp]
	}
	return id
}

func (u *UnionFind) add(id int64) {
	if _, ok := u.parent[id]; !ok {
		u.parent[id], u.size[id], u.min[id] = id, 1, id
	}
}

// Union joins the sets of a and b and reports whether they were apart.
func (u *UnionFind) Union(a, b int64) bool {
	u.add(a)
	u.add(b)
	ra, rb := u.Find(a), u.Find(b)
	if ra == rb {
		return false
	}
	if u.size[ra] < u.size[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
	u.min[ra] = min(u.min[ra], u.min[rb])
	delete(u.size, rb)
	delete(u.min, rb)
	return true
}

// Canonical returns the id of id's set: its smallest member.
func (u *UnionFind) Canonical(id int64) int64 {
	r := u.Find(id)
	if m, ok := u.min[r]; ok {
		return m
	}
	return id
}

// Size returns the number of members of id's set (1 if never seen).
func (u *UnionFind) Size(id int64) int64 {
	if s, ok := u.size[u.Find(id)]; ok {
		return s
	}
	return 1
}

// Components returns every set of two or more members, keyed by its
// canonical id.
func (u *UnionFind) Components() map[int64][]int64 {
	out := map[int64][]int64{}
	for id := range u.parent {
		c := u.Canonical(id)
		out[c] = append(out[c], id)
	}
	for c, m := range out {
		if len(m) < 2 {
			delete(out, c)
		}
	}
	return out
}
