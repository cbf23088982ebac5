// Package bitcoin is fundtrace's adapter for Bitcoin's UTXO chains: mainnet,
// testnet3, testnet4, the default signet and regtest. It turns raw blocks
// and transactions into the chain-neutral types of package chains, gives
// every output script a type and an address, and validates addresses typed
// by users. Parsing is pure; the I/O lives in three sources of blocks: the
// blk-file reader (BlockDir), the JSON-RPC client (Client, for Bitcoin Core
// and btcd) and the Esplora REST client (Esplora). The two clients speak
// HTTP through package chains/endpoint (credentials, retries, rate limits,
// secrets kept out of errors and logs).
//
// # Node clients
//
// Client sends legacy JSON-RPC 1.0 requests, which both bitcoind and btcd
// accept, and decodes every reply shape they give: a result with
// "error":null, a JSON-RPC 2.0 reply, and Core's HTTP 404/500 carrying a
// JSON error body. Batches are one HTTP request holding an array, matched
// by id. Blocks are fetched raw (getblock HASH 0) and decoded here, which
// sidesteps the verbose-format differences between btcd and Core. Check
// compares the node's genesis block with the network's (ErrWrongNetwork)
// and fails fast on bad credentials or a missing method
// (ErrMethodNotFound). Esplora reads /blocks/tip/hash, /block/HASH,
// /block-height/H and /block/HASH/raw.
//
// Both verify every block before returning it: the header hashes to the
// hash asked for and satisfies its own proof of work, and the txids give
// the header's Merkle root (a tree padded with a duplicated last
// transaction, CVE-2012-2459, is rejected); otherwise ErrBlockMismatch.
// Witness data is not checked against the witness commitment.
//
// # Networks
//
// NetworkFor(id) returns a *Network: the magic of blk files and p2p
// messages, the genesis hash and the address encodings of one network. A
// Network is immutable and safe for concurrent use; every other function
// hangs off it, so the same bytes give mainnet addresses (1…, 3…, bc1…) on
// chains.BTC, m|n…, 2…, tb1… on the test networks and signet, and bcrt1…
// on regtest. Params exposes btcd's chaincfg parameters for code that
// drives btcd directly; no other exported signature uses btcd types.
//
// # Decoding
//
// DecodeBlock and DecodeTx parse the consensus serialization (BIP144
// witness form included) directly from the byte slice. They compute each
// txid once, straight from the input bytes (witness data skipped), and
// allocate a handful of slices per block rather than several objects per
// transaction. The parser is our own; the tests and fuzz targets check it
// against btcd's wire decoder (field by field, txids, sizes, weights,
// re-serialization) and check each real block's txids against its Merkle
// root. btcd's decoder plus the conversion to chains types measured about
// twice as slow, with 2.4 times the allocations (BenchmarkDecodeBlock vs
// BenchmarkDecodeBlockBtcdWire), and on hostile input it allocates ~100 MB
// for a single bogus count; here every count is checked against the bytes
// left before anything is allocated, so memory stays proportional to the
// input. Decoding never panics. Address encoding (btcd's base58 and
// bech32) takes a large share of the decoding time.
//
// Errors wrap ErrMalformed and name what is wrong and where ("block at
// height 170: tx 1: output 0: value … is more than 21,000,000 BTC").
// Besides parse errors, DecodeBlock rejects blocks without transactions,
// a first transaction that is not a coinbase, the null outpoint outside
// the coinbase, output values (or per-transaction sums) above 21,000,000
// BTC, and blocks over 4,000,000 bytes. It does not check proof of work,
// the Merkle root or scripts (the node clients do the first two). A coinbase input gets the zero OutPoint.
//
// # Scripts and addresses
//
// ClassifyScript works on the raw script bytes and follows Bitcoin Core's
// Solver: P2PK (address: the P2PKH address of the key), P2PKH, P2SH,
// P2WPKH, P2WSH, P2TR, P2A (pay-to-anchor), witness programs of future
// versions (bech32m address), bare multisig and OP_RETURN (no address),
// everything else non-standard. MultisigKeys returns the keys of a bare
// multisig script for the clustering heuristics. Addresses are encoded
// with btcd's base58 and bech32 packages.
//
// ParseAddress accepts what users paste (surrounding white space, upper-
// case bech32) and returns the canonical form used in the store, or an
// error wrapping chains.ErrInvalidAddress that says why: bad checksum, an
// address of another network, an unknown format, an invalid witness
// program. Regtest shares base58 prefixes with the test networks, so
// m|n…/2… addresses are valid on both; testnet3, testnet4 and signet share
// every encoding and cannot be told apart by address.
package bitcoin
