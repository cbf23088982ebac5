package ethereum

import (
	"encoding/json"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/fundtrace/fundtrace/chains"
)

// The JSON-RPC result shapes fundtrace reads. They are our own structs,
// not go-ethereum's core/types: those refuse transaction types they do not
// know (new forks, L2 deposit transactions), while a tracer must read every
// block. Unknown fields are ignored; a field that is present but malformed
// fails the decode, naming it.

// RPCBlock is the result of eth_getBlockByNumber(n, true).
type RPCBlock struct {
	Number        hexutil.Uint64  `json:"number"`
	Hash          common.Hash     `json:"hash"`
	ParentHash    common.Hash     `json:"parentHash"`
	Timestamp     hexutil.Uint64  `json:"timestamp"`
	Miner         common.Address  `json:"miner"`
	GasUsed       hexutil.Uint64  `json:"gasUsed"`
	GasLimit      hexutil.Uint64  `json:"gasLimit"`
	BaseFeePerGas *hexutil.Big    `json:"baseFeePerGas"` // nil before London
	Size          hexutil.Uint64  `json:"size"`
	Uncles        []common.Hash   `json:"uncles"`
	Transactions  []RPCTx         `json:"transactions"`
	Withdrawals   []RPCWithdrawal `json:"withdrawals"` // nil before Shanghai
}

// RPCTx is a transaction object inside a full block.
type RPCTx struct {
	Hash             common.Hash     `json:"hash"`
	TransactionIndex hexutil.Uint64  `json:"transactionIndex"`
	From             common.Address  `json:"from"`
	To               *common.Address `json:"to"` // nil: contract creation
	Value            hexutil.Big     `json:"value"`
	Nonce            hexutil.Uint64  `json:"nonce"`
	Type             hexutil.Uint64  `json:"type"` // absent (legacy) before Berlin
	Gas              hexutil.Uint64  `json:"gas"`
	GasPrice         *hexutil.Big    `json:"gasPrice"`
}

// RPCWithdrawal is a beacon-chain withdrawal (EIP-4895). Amount is in
// gwei.
type RPCWithdrawal struct {
	Index          hexutil.Uint64 `json:"index"`
	ValidatorIndex hexutil.Uint64 `json:"validatorIndex"`
	Address        common.Address `json:"address"`
	Amount         hexutil.Uint64 `json:"amount"`
}

// RPCReceipt is a transaction receipt (eth_getBlockReceipts element or
// eth_getTransactionReceipt result).
type RPCReceipt struct {
	TransactionHash   common.Hash     `json:"transactionHash"`
	TransactionIndex  hexutil.Uint64  `json:"transactionIndex"`
	BlockHash         common.Hash     `json:"blockHash"`
	From              common.Address  `json:"from"`
	To                *common.Address `json:"to"`
	ContractAddress   *common.Address `json:"contractAddress"`
	GasUsed           hexutil.Uint64  `json:"gasUsed"`
	EffectiveGasPrice *hexutil.Big    `json:"effectiveGasPrice"` // absent on old nodes: use the tx's gasPrice
	Status            *hexutil.Uint64 `json:"status"`            // absent before Byzantium: see Root
	// BlobGasUsed and BlobGasPrice are set for EIP-4844 blob transactions
	// (type 3, from Cancun): the sender also pays, and burns, their
	// product.
	BlobGasUsed  *hexutil.Uint64 `json:"blobGasUsed"`
	BlobGasPrice *hexutil.Big    `json:"blobGasPrice"`
	Root         *hexutil.Bytes  `json:"root"`
	Logs         []RPCLog        `json:"logs"`
}

// RPCLog is an event log of a receipt.
type RPCLog struct {
	Address  common.Address `json:"address"`
	Topics   []common.Hash  `json:"topics"`
	Data     hexutil.Bytes  `json:"data"`
	LogIndex hexutil.Uint64 `json:"logIndex"`
	Removed  bool           `json:"removed"`
}

// CallFrame is one frame of geth's callTracer output. Type is upper case
// (CALL, STATICCALL, DELEGATECALL, CALLCODE, CREATE, CREATE2,
// SELFDESTRUCT). Error is set when the frame reverted or failed; its
// subcalls' effects are undone with it.
type CallFrame struct {
	Type    string          `json:"type"`
	From    common.Address  `json:"from"`
	To      *common.Address `json:"to"`
	Value   *hexutil.Big    `json:"value"`
	Gas     hexutil.Uint64  `json:"gas"`
	GasUsed hexutil.Uint64  `json:"gasUsed"`
	Error   string          `json:"error"`
	Calls   []CallFrame     `json:"calls"`
}

// TxTrace is one element of debug_traceBlockByNumber's result: the trace
// of the transaction at the same index. Newer geth adds txHash; a tracer
// that failed on a transaction sets Error instead of Result.
type TxTrace struct {
	TxHash *common.Hash `json:"txHash"`
	Result *CallFrame   `json:"result"`
	Error  string       `json:"error"`
}

// ParityTrace is one element of trace_block (OpenEthereum, Erigon, Nethermind,
// reth). Type is "call", "create", "suicide" or "reward".
type ParityTrace struct {
	Type                string          `json:"type"`
	Action              ParityAction    `json:"action"`
	Result              json.RawMessage `json:"result"`
	Error               string          `json:"error"`
	Subtraces           int             `json:"subtraces"`
	TraceAddress        []int           `json:"traceAddress"`
	TransactionHash     *common.Hash    `json:"transactionHash"`
	TransactionPosition *int            `json:"transactionPosition"` // nil for rewards
}

// ParityAction is the action of a ParityTrace; which fields are set
// depends on the trace type.
type ParityAction struct {
	CallType      string          `json:"callType"` // call, delegatecall, staticcall, callcode
	From          *common.Address `json:"from"`
	To            *common.Address `json:"to"`
	Value         *hexutil.Big    `json:"value"`
	Address       *common.Address `json:"address"`       // suicide: the destroyed contract
	RefundAddress *common.Address `json:"refundAddress"` // suicide: the beneficiary
	Balance       *hexutil.Big    `json:"balance"`       // suicide: the amount sent
	Author        *common.Address `json:"author"`        // reward: the recipient
	RewardType    string          `json:"rewardType"`    // reward: block, uncle
}

// ParityCreateResult is the result of a create trace.
type ParityCreateResult struct {
	Address common.Address `json:"address"`
}

// TraceSource says how a block's internal transfers were obtained.
type TraceSource uint8

// Trace sources.
const (
	TracesNone       TraceSource = iota // the node traces neither way
	TracesCallTracer                    // debug_traceBlockByNumber, callTracer
	TracesParity                        // trace_block
)

// RawBlock is everything a node said about one block, before extraction.
type RawBlock struct {
	Block    *RPCBlock
	Receipts []*RPCReceipt // in transaction order, one per transaction
	// Uncles holds the headers of the block's uncles (for pre-Merge uncle
	// rewards), in the block's order; only Number and Miner are read.
	Uncles      []*RPCBlock
	TraceSource TraceSource
	Calls       []TxTrace     // TracesCallTracer: one per transaction
	Parity      []ParityTrace // TracesParity
	// Tokens describes the token contracts of the block's Transfer logs
	// (Address left empty; the key says it). Contracts missing from it are
	// described as unknown.
	Tokens map[common.Address]chains.Token
}
