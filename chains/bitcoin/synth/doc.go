// Package synth generates a deterministic, realistic Bitcoin regtest chain
// for benchmarks and tests, written as Bitcoin Core style blk*.dat files.
//
// # What is generated
//
// The chain (chain id btc-regtest) starts at the real regtest genesis block
// and continues with generated blocks whose headers link correctly, whose
// timestamps strictly increase, whose bits are the regtest proof-of-work
// limit (0x207fffff) and whose merkle roots, txids and wtxids are the real
// double-SHA256 of the serialized data. Proof of work, signatures and
// script hashes are not real: keys, hashes and signatures are pseudo-random
// bytes of realistic sizes, derived from the seed, because fundtrace's
// indexer validates neither proof of work nor scripts.
//
// Blocks 1..FundingBlocks hold only a coinbase (regtest coins mature after
// 100 blocks). After them the number of transactions per block ramps up over
// RampBlocks blocks to TxsPerBlock. Each transaction spends 1-5 unspent
// outputs (occasionally a consolidation of 10-20), mostly owned by one
// simulated wallet, and pays one to three outputs (a payment plus change to
// a fresh address of the spender's type; about 5% are batch payouts of 10-30
// outputs). New outputs follow a modern script mix (P2WPKH, P2TR, P2SH-wrapped
// P2WPKH, P2PKH, P2WSH and about 2% OP_RETURN); about a fifth of payments go
// to an address that has been paid before. Fees are a fee rate times the
// exact virtual size, and each coinbase claims exactly the subsidy (50 BTC
// halving every 150 blocks) plus the block's fees, so value is conserved to
// the satoshi. Every coinbase carries a BIP34 height and a BIP141 witness
// commitment, as Bitcoin Core's coinbases do.
//
// # Determinism
//
// The same Config always produces byte-identical output: all randomness
// comes from a ChaCha8 stream seeded from Config.Seed, and the generator
// never iterates over maps.
//
// # Files
//
// WriteBlockDir writes blk00000.dat, blk00001.dat, ... in height order. Each
// record is the regtest network magic (fa bf b5 da), the block length as a
// little-endian uint32 and the serialized block; a file is closed before it
// would exceed Config.MaxFileSize. The files are not XOR-obfuscated (as with
// Bitcoin Core's -blocksxor=0), and no rev*.dat or block index is written.
// Generate produces the same blocks in memory, one at a time.
package synth
