package devnet

import (
	"context"
	"encoding/json"
	"fmt"
)

type peerInfo struct {
	ID        int32  `json:"id"`
	Addr      string `json:"addr"`
	AddrLocal string `json:"addrlocal"`
	Inbound   bool   `json:"inbound"`
	Version   uint32 `json:"version"`
}

// Peers returns getpeerinfo's address of every connected peer.
func (b *Btcd) Peers(ctx context.Context) ([]string, error) {
	ps, err := b.peers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Addr
	}
	return out, nil
}

func (b *Btcd) peers(ctx context.Context) ([]peerInfo, error) {
	raw, err := b.Call(ctx, "getpeerinfo")
	if err != nil {
		return nil, err
	}
	var ps []peerInfo
	if err := json.Unmarshal(raw, &ps); err != nil {
		return nil, fmt.Errorf("devnet: getpeerinfo: %w: %s", ErrMalformed, snippet(raw))
	}
	return ps, nil
}

// Connect makes b open a connection to other (which must have been started
// with Listen) and waits until both ends list each other as a peer. The
// connection is temporary in btcd's terms ("node connect ADDR temp"): btcd
// never redials it, so Disconnect is final. Blocks then flow both ways;
// use WaitTip to wait for a sync.
func (b *Btcd) Connect(ctx context.Context, other *Btcd) error {
	if other.p2pAddr == "" {
		return fmt.Errorf("%w: %s (start it with BtcdOptions.Listen)", ErrNotListening, other.rpcAddr)
	}
	if _, err := b.Call(ctx, "node", "connect", other.p2pAddr, "temp"); err != nil {
		return fmt.Errorf("devnet: connect %s to %s: %w", b.rpcAddr, other.p2pAddr, err)
	}
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		mine, err := b.peers(ctx)
		if err != nil {
			return false, err
		}
		theirs, err := other.peers(ctx)
		if err != nil {
			return false, err
		}
		for _, p := range mine {
			if p.Inbound || p.Addr != other.p2pAddr || p.Version == 0 {
				continue
			}
			for _, q := range theirs {
				if q.Inbound && q.Addr == p.AddrLocal && q.Version != 0 {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("devnet: wait for %s to peer with %s: %w", b.rpcAddr, other.p2pAddr, err)
	}
	return nil
}

// Disconnect drops every connection between b and other, in both
// directions, and waits until neither lists the other as a peer. Outbound
// connections made by Connect are not redialled. A permanent peer (added
// with --addpeer or "node connect ADDR perm") is removed with "node
// remove", but btcd 0.26 may still redial it.
func (b *Btcd) Disconnect(ctx context.Context, other *Btcd) error {
	// The links: x's outbound peer with address y.P2PAddr, seen at y as an
	// inbound peer whose address is that connection's local address at x.
	type link struct{ from, to *Btcd }
	var drop []link
	if other.p2pAddr != "" {
		drop = append(drop, link{b, other})
	}
	if b.p2pAddr != "" {
		drop = append(drop, link{other, b})
	}
	// Addresses that identify the links at each node.
	gone := map[*Btcd]map[string]bool{b: {}, other: {}}
	for _, l := range drop {
		ps, err := l.from.peers(ctx)
		if err != nil {
			return fmt.Errorf("devnet: disconnect %s from %s: %w", b.rpcAddr, other.rpcAddr, err)
		}
		gone[l.from][l.to.p2pAddr] = true
		for _, p := range ps {
			if !p.Inbound && p.Addr == l.to.p2pAddr {
				gone[l.to][p.AddrLocal] = true
			}
		}
		// "node disconnect" refuses permanent peers; "remove" is for them.
		if _, err := l.from.Call(ctx, "node", "disconnect", l.to.p2pAddr); err != nil {
			if _, err2 := l.from.Call(ctx, "node", "remove", l.to.p2pAddr); err2 != nil && hasPeer(ps, l.to.p2pAddr) {
				return fmt.Errorf("devnet: disconnect %s from %s: %w; remove: %w", l.from.rpcAddr, l.to.p2pAddr, err, err2)
			}
		}
	}
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		for n, addrs := range gone {
			ps, err := n.peers(ctx)
			if err != nil {
				return false, err
			}
			for _, p := range ps {
				if addrs[p.Addr] {
					return false, nil
				}
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("devnet: wait for %s and %s to drop each other: %w", b.rpcAddr, other.rpcAddr, err)
	}
	return nil
}

func hasPeer(ps []peerInfo, addr string) bool {
	for _, p := range ps {
		if p.Addr == addr {
			return true
		}
	}
	return false
}
