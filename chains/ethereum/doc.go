// Package ethereum reads Ethereum and other EVM chains: it turns what a
// JSON-RPC node says about a block into a chains.Block whose AccountBlock
// lists every movement of value in the block.
//
// # What it reads
//
// For each block (a RawBlock): the block with its transactions
// (eth_getBlockByNumber(n, true)), one receipt per transaction, the
// uncle headers (before the Merge), and the call traces, either geth's
// callTracer (debug_traceBlockByNumber) or the trace_block output of
// Erigon, Nethermind, reth and OpenEthereum. Both trace sources give the
// same transfers. Token metadata comes from eth_call of name(), symbol()
// and decimals(), decoded by DecodeTokenString and DecodeTokenDecimals.
// Extract does no I/O; the client fetches.
//
// # Value-flow rules
//
// Per transaction, in block order, Position from 0 inside it:
//
//  1. The fee, paid by the sender whether or not the transaction
//     succeeded: gasUsed × effective gas price (the transaction's
//     gasPrice when the receipt has no effectiveGasPrice). From London on
//     it is split into the tip, (price − baseFee) × gasUsed, to the
//     block's fee recipient (TransferFee), and the burn, baseFee ×
//     gasUsed (TransferBurn, To ""). Before London the whole fee goes to
//     the miner. A blob transaction (EIP-4844) also pays blobGasUsed ×
//     blobGasPrice, burned as a second TransferBurn and counted in the
//     transaction's Fee. Zero parts are left out.
//  2. Only when the transaction succeeded: its value, to the recipient
//     (TransferCall) or to the created contract (TransferCreate).
//  3. Only on success: internal transfers from the trace, in pre-order
//     (TraceAddress "0", "0.2", ...): CALL with value (TransferInternal),
//     CREATE/CREATE2 with value (TransferCreate, to the new contract),
//     SELFDESTRUCT of a non-zero balance (TransferSelfdestruct, contract
//     to beneficiary). DELEGATECALL, STATICCALL and CALLCODE move nothing
//     (traces show the caller's value on delegate calls: it is not sent
//     again). A frame that failed is dropped with its whole subtree: the
//     EVM undoes it. trace_block reward traces are ignored.
//  4. Only on success: ERC-20 Transfer events (topic 0xddf252ad…, exactly
//     three topics, 32 bytes of data, not removed; four topics is
//     ERC-721, skipped), TransferToken from the token contract's log:
//     mints from and burns to the zero address are kept as they are, and
//     so are zero values (address-poisoning spam is evidence).
//
// Then the block-level transfers (TxIndex -1): beacon withdrawals in
// order (gwei × 1e9, From ""; zero amounts left out), then, before the
// Merge on chains with Params.Rewards, the block reward R + uncles × R/32
// to the miner and (uncle + 8 − height) × R / 8 to each uncle's miner,
// in integers, as the protocol computes them.
//
// # Log ordering approximation
//
// The EVM emits logs between calls, but neither callTracer without logs
// nor trace_block says where. Token transfers are therefore placed after
// all internal transfers of their transaction, in logIndex order. Within
// one transaction, a token transfer may thus appear after an internal
// ETH transfer that really happened later; across transactions the order
// is exact.
//
// # Consistency checks
//
// Extract refuses a block (error wrapping ErrInconsistent, naming the
// block, the transaction and what differs) when: a receipt is missing or
// is for another transaction, index or block; the number of traces does
// not match; a trace is for another transaction; the top-level trace's
// from, to, value or kind (call or creation) differs from the
// transaction, or its created address from the receipt's contractAddress;
// the top-level trace failed while the receipt says success, or the
// reverse; a value-moving frame lacks its addresses (old geth tracers
// print SELFDESTRUCT without beneficiary and value); a frame of unknown
// type carries value; a trace_block trace has no parent or repeats an
// address; the effective gas price is below the base fee; an amount is
// negative or 2^256 or more, or the fee overflows; uncle headers are
// missing or too old.
//
// # What is not verified
//
// Extract trusts the node for everything it cannot cross-check: block
// and transaction hashes are not recomputed, nor the transactions,
// receipts or withdrawals roots, signatures (the sender is the node's
// "from"), the state, or the block's gasUsed against the receipts. Before
// Byzantium receipts have no status: the trace's top-level error decides,
// and without traces the transaction is taken as successful (a failed
// pre-Byzantium transaction without traces is therefore misread). Created
// is set only for successful creations. A SELFDESTRUCT to the contract itself is recorded as a transfer
// to itself, although the EVM burns that balance when it really destroys
// the contract. Chains that do not burn the base fee are not modelled.
package ethereum
