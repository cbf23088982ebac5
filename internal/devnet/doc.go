// Package devnet runs throw-away btcd regtest and geth --dev nodes for
// tests and benchmarks and fills them with realistic transactions signed
// by in-process wallets.
//
// # Nodes
//
// StartBtcd starts one btcd process (see local-chains.md 4.2): --regtest
// --notls --txindex, RPC on a free 127.0.0.1 port with random credentials,
// data, logs and console output in a fresh directory (btcd creates an empty
// ~/.btcd but writes nothing there). It returns once the node answers
// RPC, found by polling. With BtcdOptions.Listen the node also accepts
// peers on a free loopback port, so that Connect and Disconnect can build
// and split small networks for reorg tests. Stop sends SIGINT to the
// node's own PID and waits, killing it after 10 s. Every start error
// carries the tail of btcd's log and console output.
//
// The btcd binary comes from BtcdPath: $FUNDTRACE_BTCD, or <repo>/.bin/btcd
// built from the pinned tools module tools/chains (btcd v0.26.2), kept out
// of the product go.mod.
//
// Btcd has its own small JSON-RPC client (Call, Batch) and helpers for the
// chain: Generate (btcd has no generatetoaddress: blocks pay the node's
// --miningaddr), Tip, BestChain, WaitTip, InvalidateBlock.
//
// # Wallet
//
// btcd has no wallet, so Wallet signs with its own deterministic keys
// (sha256(seed/i)): P2PKH (ECDSA scriptSig), P2WPKH (BIP143 witness) and
// P2TR key path (BIP86 key, BIP340 Schnorr, BIP341 sighash over all
// previous outputs). It learns its outputs by decoding the node's blocks
// (getblock HASH 0), respects coinbase maturity (100 blocks) and spends
// its own unconfirmed outputs straight away. Populate mines the first
// mature coinbase, then builds thousands of transactions of mixed kinds
// and shapes (several inputs, several outputs, address reuse, chains of
// unconfirmed spends), submits them in JSON-RPC batches and mines a block
// after every Plan.TxsPerBlock. The graph it builds depends only on
// Plan.Seed.
//
// # Ethereum
//
// StartGeth starts geth --dev (local-chains.md 4.3): HTTP JSON-RPC (eth,
// debug, net, web3) on a free 127.0.0.1 port, no IPC, no P2P, the chain in
// GethOptions.Dir (restartable), nothing under $HOME. GethPath builds geth
// v1.17.10 from tools/chains like BtcdPath builds btcd ($FUNDTRACE_GETH
// overrides). Call goes through go-ethereum's rpc.Client; SetHead
// (debug_setHead) rewinds the chain for reorg tests. The dev chain
// enables every fork, so gas is always estimated (plus 25 %), never
// hard-coded, except for transactions meant to fail. Tracing blocks older
// than geth's recent state needs Args {"--gcmode", "archive",
// "--state.scheme", "hash"} (bench eth passes them).
//
// EthAccount signs locally (EIP-1559 transactions, LatestSignerForChainID);
// DevAccount is geth's pre-funded developer key. The contracts package
// holds the Solidity sources and their solc 0.8.37 output (Token, OddToken
// with bytes32 metadata and a reverting decimals(), Splitter and Child),
// compiled by scripts/compile-contracts.mjs. PopulateEth funds EOAs,
// deploys the contracts and sends, per round, every value flow an
// extractor must handle (plain, internal, reverted inner frames, token
// mints, transfers and burns, failing transactions, creation with value,
// CREATE2, SELFDESTRUCT), returning every address it touched.
//
// # Tests
//
// The tests that start btcd or geth are behind the regtest build tag:
//
//	go test -tags regtest -race -count=1 ./internal/devnet/
//
// Without the tag, the package tests check key derivation, signing (every
// input verified by btcd's script engine) and Populate's determinism
// against an in-memory chain, without a node.
package devnet
