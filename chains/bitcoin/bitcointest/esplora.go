package bitcointest

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/fundtrace/fundtrace/chains"
)

// esploraRoute splits a request path into a route name and its parameter.
func esploraRoute(path string) (route, param string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "blocks" && parts[1] == "tip" && (parts[2] == "hash" || parts[2] == "height"):
		return "blocks/tip/" + parts[2], ""
	case len(parts) == 2 && parts[0] == "block-height":
		return "block-height", parts[1]
	case len(parts) == 2 && parts[0] == "block":
		return "block", parts[1]
	case len(parts) == 3 && parts[0] == "block" && (parts[2] == "raw" || parts[2] == "header" || parts[2] == "status"):
		return "block/" + parts[2], parts[1]
	}
	return "unknown", ""
}

func (n *Node) parseEsplora(r *http.Request) (*incoming, error) {
	route, _ := esploraRoute(r.URL.Path)
	return &incoming{ops: []string{route}}, nil
}

func (n *Node) serveEsplora(_ http.ResponseWriter, r *http.Request, in *incoming) reply {
	if r.Method != http.MethodGet {
		return textReply(http.StatusMethodNotAllowed, "Method Not Allowed")
	}
	hashes := n.chain.Hashes()
	tip := int64(len(hashes) - 1)
	route, param := esploraRoute(r.URL.Path)
	switch route {
	case "blocks/tip/hash":
		if tip < 0 {
			return textReply(http.StatusNotFound, "Block not found")
		}
		return textReply(http.StatusOK, hashes[tip].String())
	case "blocks/tip/height":
		return textReply(http.StatusOK, strconv.FormatInt(tip, 10))
	case "block-height":
		h, err := strconv.ParseInt(param, 10, 64)
		if err != nil {
			return textReply(http.StatusBadRequest, "Invalid height")
		}
		if h < 0 || h > tip {
			return textReply(http.StatusNotFound, "Block not found")
		}
		return textReply(http.StatusOK, hashes[h].String())
	}
	if route == "unknown" {
		return textReply(http.StatusNotFound, "Not Found")
	}
	hash, err := chains.ParseHash(param)
	if err != nil {
		return textReply(http.StatusBadRequest, "Invalid hex string")
	}
	raw, ok := n.chain.RawBlock(hash)
	if !ok || len(raw) < 80 {
		return textReply(http.StatusNotFound, "Block not found")
	}
	switch route {
	case "block/raw":
		if in.wrong {
			raw = otherBlock(n.chain, hashes, hash, raw)
		}
		return reply{status: http.StatusOK, header: http.Header{"Content-Type": {"application/octet-stream"}}, body: raw}
	case "block/header":
		return textReply(http.StatusOK, hex.EncodeToString(raw[:80]))
	case "block/status":
		height, onBest, _ := heightOf(n.chain, hashes, hash)
		st := map[string]any{"in_best_chain": onBest}
		if onBest {
			st["height"] = height
			if height < tip {
				st["next_best"] = hashes[height+1].String()
			}
		}
		return n.jsonReply(http.StatusOK, st)
	}
	// "block"
	hdr, _ := parseHeader(raw)
	height, _, known := heightOf(n.chain, hashes, hash)
	b := map[string]any{
		"id":          hash.String(),
		"version":     hdr.version,
		"timestamp":   hdr.time,
		"tx_count":    txCount(raw),
		"size":        len(raw),
		"weight":      4 * len(raw), // approximate: the fake does not parse witnesses
		"merkle_root": hdr.merkleRoot.String(),
		"nonce":       hdr.nonce,
		"bits":        hdr.bits,
	}
	if known {
		b["height"] = height
	}
	if !hdr.prev.IsZero() {
		b["previousblockhash"] = hdr.prev.String()
	}
	return n.jsonReply(http.StatusOK, b)
}
