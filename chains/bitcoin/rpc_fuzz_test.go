package bitcoin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fundtrace/fundtrace/chains/endpoint"
)

// FuzzRPCResponse feeds arbitrary node replies to the JSON-RPC reply
// decoders: they must never panic, and what they accept must be
// consistent.
func FuzzRPCResponse(f *testing.F) {
	seeds := []string{
		`{"result":"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f","error":null,"id":1}`,
		`{"jsonrpc":"2.0","result":42,"id":1}`,
		`{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}`,
		`{"result":null,"error":{"code":-28,"message":"Loading block index..."},"id":null}`,
		`{"result":null,"error":{"code":-8,"message":"Block height out of range"},"id":"1"}`,
		`{"result":"0100","error":null,"id":2}`,
		`[{"result":1,"error":null,"id":2},{"result":"00ff","error":null,"id":1},{"result":null,"error":{"code":-5,"message":"Block not found"},"id":3}]`,
		`[{"result":1,"id":1},{"result":1,"id":1},{"result":1,"id":3}]`,
		`[]`, `{}`, `null`, `"x"`, `<html>`, `{"error":"string"}`, `{"result":`,
	}
	for _, s := range seeds {
		for _, status := range []int{200, 404, 500, 503} {
			f.Add(status, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		r := endpoint.Response{Status: status, Body: body}
		if result, err := decodeReply(r, 1); err == nil {
			if !json.Valid(result) {
				t.Fatalf("decodeReply accepted %q with an invalid result %q", body, result)
			}
			checkResultDecoders(t, result)
		}
		ids := []uint64{1, 2, 3}
		results, errs, err := decodeBatch(r, ids)
		if err != nil {
			if results != nil || errs != nil {
				t.Fatalf("decodeBatch returned results with error %v", err)
			}
			return
		}
		if len(results) != len(ids) || len(errs) != len(ids) {
			t.Fatalf("decodeBatch returned %d results and %d errors for %d ids", len(results), len(errs), len(ids))
		}
		for i := range ids {
			if (errs[i] == nil) == (results[i] == nil) {
				t.Fatalf("call %d: result %q and error %v: want exactly one", i, results[i], errs[i])
			}
			if errs[i] == nil {
				if !json.Valid(results[i]) {
					t.Fatalf("call %d: invalid result %q", i, results[i])
				}
				checkResultDecoders(t, results[i])
			}
		}
	})
}

func checkResultDecoders(t *testing.T, result json.RawMessage) {
	if b, err := hexResult(result); err == nil && 2*len(b) > len(result) {
		t.Fatalf("hexResult(%q) = %d bytes, more than the digits allow", result, len(b))
	}
	if h, err := hashResult(result); err == nil {
		var s string
		if json.Unmarshal(result, &s) != nil || !strings.EqualFold(s, h.String()) {
			t.Fatalf("hashResult(%q) = %s", result, h)
		}
	}
}

// FuzzEsploraReply feeds arbitrary bodies to the Esplora decoders.
func FuzzEsploraReply(f *testing.F) {
	for _, s := range []string{
		`{"id":"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f","height":0,"version":1,"timestamp":1231006505,"tx_count":1}`,
		`{"id":"00","height":-1}`, `{"height":1e3}`, `{"id":null}`, `[]`, `Block not found`,
		"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if h, id, err := parseEsploraBlock(body); err == nil && h < 0 {
			t.Fatalf("parseEsploraBlock(%q) = %d, %s", body, h, id)
		}
		if h, err := parseHashText(body); err == nil {
			if len(body) < 64 {
				t.Fatalf("parseHashText(%q) = %s from fewer than 64 bytes", body, h)
			}
		}
	})
}
