package chains

import "fmt"

// ScriptType classifies an output script of a UTXO chain.
type ScriptType uint8

// Output script types. The numeric values are stored in the database: never
// renumber them, only append.
const (
	ScriptNonStandard    ScriptType = 0 // anything not matched below; no address
	ScriptP2PK           ScriptType = 1 // <pubkey> OP_CHECKSIG; address is the P2PKH of the key
	ScriptP2PKH          ScriptType = 2
	ScriptP2SH           ScriptType = 3
	ScriptP2WPKH         ScriptType = 4
	ScriptP2WSH          ScriptType = 5
	ScriptP2TR           ScriptType = 6
	ScriptMultisig       ScriptType = 7 // bare m-of-n CHECKMULTISIG; no single address
	ScriptOpReturn       ScriptType = 8 // provably unspendable data carrier; value kept
	ScriptWitnessUnknown ScriptType = 9 // witness program of a future version; has an address
	ScriptP2A            ScriptType = 10
)

var scriptTypeNames = [...]string{
	ScriptNonStandard:    "nonstandard",
	ScriptP2PK:           "p2pk",
	ScriptP2PKH:          "p2pkh",
	ScriptP2SH:           "p2sh",
	ScriptP2WPKH:         "p2wpkh",
	ScriptP2WSH:          "p2wsh",
	ScriptP2TR:           "p2tr",
	ScriptMultisig:       "multisig",
	ScriptOpReturn:       "op_return",
	ScriptWitnessUnknown: "witness_unknown",
	ScriptP2A:            "p2a",
}

// String returns the name used in JSON and on the command line.
func (t ScriptType) String() string {
	if int(t) < len(scriptTypeNames) {
		return scriptTypeNames[t]
	}
	return fmt.Sprintf("script_type(%d)", uint8(t))
}

// MarshalText implements encoding.TextMarshaler.
func (t ScriptType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Spendable reports whether outputs of this type can ever be spent.
func (t ScriptType) Spendable() bool { return t != ScriptOpReturn }

// OutPoint names one output of a transaction.
type OutPoint struct {
	TxID  Hash
	Index uint32
}

// String returns "txid:index".
func (o OutPoint) String() string { return fmt.Sprintf("%s:%d", o.TxID, o.Index) }

// Block is a decoded block. The header fields are common to both ledger
// models; a UTXO chain fills Txs, an account-model chain fills Account
// (and leaves MerkleRoot, Version, Bits, Nonce and Weight zero).
type Block struct {
	Height     int64
	Hash       Hash
	PrevHash   Hash
	MerkleRoot Hash
	Time       int64 // header timestamp, unix seconds
	Version    int32
	Bits       uint32
	Nonce      uint32
	Size       int // serialized size in bytes, witness included
	Weight     int
	Txs        []Tx
	Account    *AccountBlock
}

// Tx is a decoded transaction of a UTXO chain.
type Tx struct {
	Hash     Hash // txid
	Version  int32
	LockTime uint32
	Size     int
	Weight   int
	Coinbase bool
	Inputs   []Input
	Outputs  []Output
}

// Input spends one earlier output. A coinbase input has a zero Prev.
type Input struct {
	Prev     OutPoint
	Sequence uint32
}

// Output is one output of a transaction. Value is in base units (satoshi).
type Output struct {
	Value      uint64
	ScriptType ScriptType
	// Address is the canonical address string for the output's network, or
	// "" when the script has none (multisig, OP_RETURN, non-standard).
	Address string
	// Script is the raw output script.
	Script []byte
}
