package chains

import "fmt"

// AccountBlock is the account-model part of a Block (Ethereum and other
// EVM chains): the block's transactions and every movement of value in it,
// already extracted from the node's block, receipts and call traces.
//
// Addresses are lowercase "0x" hex (40 digits); tools print them with the
// EIP-55 checksum. Amounts are exact base units (wei, token units).
type AccountBlock struct {
	// FeeRecipient is the block's coinbase ("miner"): it receives the
	// priority fees and, before the Merge, the block reward.
	FeeRecipient string
	// BaseFee is the EIP-1559 base fee per gas; nil before London.
	BaseFee  *Amount
	GasUsed  uint64
	GasLimit uint64
	Txs      []AccountTx
	// Transfers lists every movement of value in the block in event order:
	// the transactions in block order and, inside each, its transfers by
	// Position; then the block-level transfers (TxIndex -1: withdrawals,
	// rewards).
	Transfers []Transfer
	// Tokens describes every token contract that Transfers mention, as the
	// token answered when it was first seen.
	Tokens []Token
	// NoTraces is set when the node could trace neither by callTracer nor
	// by trace_block: the block's internal transfers are unknown.
	NoTraces bool
}

// AccountTx is a transaction of an account-model chain with its receipt.
type AccountTx struct {
	Hash  Hash
	Index int    // position in the block
	From  string // sender
	To    string // recipient; "" for a contract creation
	// Created is the address of the contract a creation made (receipt
	// contractAddress), else "".
	Created string
	Value   Amount // value sent by the top-level call, moved only on success
	Nonce   uint64
	Type    uint8 // EIP-2718 envelope type (0 legacy, 2 EIP-1559, ...)
	Success bool  // receipt status 1
	GasUsed uint64
	// GasPrice is the effective gas price paid per unit of gas.
	GasPrice Amount
	// Fee is GasUsed × GasPrice, plus blob gas × blob gas price for
	// EIP-4844 transactions, paid by From whether or not the transaction
	// succeeded.
	Fee Amount
}

// TransferKind says what moved value. The numeric values are stored in the
// database: never renumber them, only append.
type TransferKind uint8

// Transfer kinds.
const (
	// TransferCall is the value of a successful transaction's top-level
	// call, sender to recipient.
	TransferCall TransferKind = 1
	// TransferInternal is value sent by a CALL inside a transaction (from
	// the call trace).
	TransferInternal TransferKind = 2
	// TransferCreate is value sent with a contract creation, top-level or
	// CREATE/CREATE2 inside a transaction, to the new contract.
	TransferCreate TransferKind = 3
	// TransferSelfdestruct is a contract's balance sent to the beneficiary
	// of its SELFDESTRUCT.
	TransferSelfdestruct TransferKind = 4
	// TransferFee is the priority part of a transaction's fee, sender to
	// the block's fee recipient (the whole fee before London).
	TransferFee TransferKind = 5
	// TransferBurn is the base-fee part of a transaction's fee, burned: To
	// is "".
	TransferBurn TransferKind = 6
	// TransferWithdrawal is a beacon-chain withdrawal credited to an
	// address: new money, From is "".
	TransferWithdrawal TransferKind = 7
	// TransferBlockReward is a pre-Merge block reward (with the uncle
	// inclusion bonus) to the miner: new money, From is "".
	TransferBlockReward TransferKind = 8
	// TransferUncleReward is a pre-Merge reward to an uncle's miner.
	TransferUncleReward TransferKind = 9
	// TransferToken is an ERC-20 Transfer event of a successful
	// transaction. A mint comes from the zero address, a burn goes to it.
	TransferToken TransferKind = 10
	// TransferGenesis is an allocation of the genesis block: new money at
	// height 0, From is "".
	TransferGenesis TransferKind = 11
)

var transferKindNames = [...]string{
	TransferCall:         "call",
	TransferInternal:     "internal",
	TransferCreate:       "create",
	TransferSelfdestruct: "selfdestruct",
	TransferFee:          "fee",
	TransferBurn:         "burn",
	TransferWithdrawal:   "withdrawal",
	TransferBlockReward:  "block_reward",
	TransferUncleReward:  "uncle_reward",
	TransferToken:        "token",
	TransferGenesis:      "genesis",
}

// String returns the name used in JSON and on the command line.
func (k TransferKind) String() string {
	if int(k) < len(transferKindNames) && transferKindNames[k] != "" {
		return transferKindNames[k]
	}
	return fmt.Sprintf("transfer_kind(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k TransferKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// ParseTransferKind parses a kind name.
func ParseTransferKind(s string) (TransferKind, error) {
	for k, n := range transferKindNames {
		if n != "" && n == s {
			return TransferKind(k), nil
		}
	}
	return 0, fmt.Errorf("chains: unknown transfer kind %q", s)
}

// Transfer is one movement of value on an account-model chain.
type Transfer struct {
	// TxIndex is the index of the transaction in its block, or -1 for a
	// block-level transfer (withdrawals, rewards).
	TxIndex int
	// Position orders the transfers of one transaction (or the
	// block-level ones), from 0: the fee (tip, then burn) first, because
	// the EVM buys gas before it executes; then the top-level value; then
	// internal transfers in call-trace pre-order; then token transfers in
	// log order.
	Position int
	Kind     TransferKind
	// Token is "" for the chain's native asset, else the token contract.
	Token string
	// From is "" for new money (withdrawals, rewards).
	From string
	// To is "" for burned value.
	To    string
	Value Amount
	// TraceAddress locates an internal transfer in the call trace ("0.2"
	// is the third call of the first call); "" otherwise.
	TraceAddress string
	// LogIndex is the block-wide index of a token transfer's log; -1
	// otherwise.
	LogIndex int
}

// Token is an ERC-20 contract's self-description. Contracts answer badly
// or not at all; an unknown decimals is -1 and unknown texts are "".
type Token struct {
	Address  string
	Name     string
	Symbol   string
	Decimals int
}

// TxCount returns the number of transactions of the block, of either
// model.
func (b *Block) TxCount() int {
	if b.Account != nil {
		return len(b.Account.Txs)
	}
	return len(b.Txs)
}
