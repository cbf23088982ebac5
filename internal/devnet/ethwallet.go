package devnet

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// DevKeyHex is the private key of geth --dev's pre-funded developer
// account (fixed in go-ethereum's cmd/utils), which is also the fee
// recipient of every dev block.
const DevKeyHex = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

// DevAddress is the address of DevKeyHex.
var DevAddress = common.HexToAddress("0x71562b71999873DB5b286dF957af199Ec94617F7")

const (
	// EthTip is the priority fee per gas of every transaction Send makes
	// (1 gwei): the block's fee recipient gets tip × gasUsed, the rest of
	// the fee (baseFee × gasUsed) is burned.
	EthTip = 1_000_000_000
	// EthFeeCap is the max fee per gas of every transaction Send makes
	// (10 gwei) unless twice the head's base fee plus the tip is more. On
	// geth --dev the base fee starts at 1 gwei and only falls, so the fee
	// cap is constant and a transaction's hash does not depend on how many
	// empty blocks geth happened to seal before it.
	EthFeeCap = 10_000_000_000
	// gasMarginPct is added to eth_estimateGas.
	gasMarginPct = 25
	// submitRetries bounds the resubmissions (about 1.3 s in all) after a
	// nonce or funds error that may come from the pool lagging the head.
	submitRetries = 10
	// receiptPoll is how often Send asks for the receipt.
	receiptPoll = 10 * time.Millisecond
)

// EthAccount is an Ethereum key pair held by the harness.
type EthAccount struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

// DevAccount returns geth --dev's pre-funded account (DevKeyHex).
func DevAccount() *EthAccount {
	key, err := crypto.HexToECDSA(DevKeyHex)
	if err != nil {
		panic("devnet: dev key: " + err.Error()) // a constant: cannot happen
	}
	return &EthAccount{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
}

// NewEthAccount returns the account whose private key is sha256(seed)
// (rehashed in the negligible case that it is not a valid secp256k1
// key). Equal seeds give equal accounts.
func NewEthAccount(seed string) *EthAccount {
	d := sha256.Sum256([]byte(seed))
	for {
		key, err := crypto.ToECDSA(d[:])
		if err == nil {
			return &EthAccount{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
		}
		d = sha256.Sum256(d[:])
	}
}

// Address returns the account's address.
func (a *EthAccount) Address() common.Address { return a.addr }

// PrivateKey returns the account's private key.
func (a *EthAccount) PrivateKey() *ecdsa.PrivateKey { return a.key }

// EthTx is a transaction for SendTx.
type EthTx struct {
	From  *EthAccount
	To    *common.Address // nil: contract creation, Data is the init code
	Value *big.Int        // wei; nil means 0
	Data  []byte
	// Gas is the gas limit. 0: eth_estimateGas plus 25 %. A transaction
	// meant to fail must set it, since estimation fails for those.
	Gas uint64
}

// Send is SendTx with an estimated gas limit.
func (g *Geth) Send(ctx context.Context, from *EthAccount, to *common.Address, value *big.Int, data []byte) (*types.Receipt, error) {
	return g.SendTx(ctx, EthTx{From: from, To: to, Value: value, Data: data})
}

// SendTx signs tx locally as an EIP-1559 transaction (chain id from the
// node, the account's next nonce, tip EthTip, fee cap EthFeeCap or twice
// the head's base fee plus the tip if more), submits it with eth_sendRawTransaction and waits
// for its receipt (at most 60 s). A mined transaction that failed is not
// an error: check the receipt's Status. Transactions are sent one at a
// time, each waited for; nonces are counted locally per sender, read from
// the node (count at the head) at first use and again after a nonce error
// or SetHead.
// A submission refused for its nonce or for insufficient funds is retried
// for about a second: geth's pool can lag the block just sealed.
func (g *Geth) SendTx(ctx context.Context, tx EthTx) (*types.Receipt, error) {
	if tx.From == nil {
		return nil, errors.New("devnet: send: no sender")
	}
	value := tx.Value
	if value == nil {
		value = new(big.Int)
	}
	if value.Sign() < 0 {
		return nil, fmt.Errorf("devnet: send from %s: negative value %s", tx.From.addr, value)
	}
	g.sendMu.Lock()
	defer g.sendMu.Unlock()

	gas := tx.Gas
	if gas == 0 {
		est, err := g.EstimateGas(ctx, tx.From.addr, tx.To, value, tx.Data)
		if err != nil {
			return nil, fmt.Errorf("devnet: send from %s to %s: %w (set EthTx.Gas for a transaction meant to fail)", tx.From.addr, toString(tx.To), err)
		}
		gas = est + est*gasMarginPct/100
	}
	head, err := g.header(ctx, "latest")
	if err != nil {
		return nil, err
	}
	feeCap := big.NewInt(EthTip)
	if head.BaseFee != nil {
		feeCap.Add(feeCap, new(big.Int).Lsh(head.BaseFee.ToInt(), 1))
	}
	if feeCap.Cmp(big.NewInt(EthFeeCap)) < 0 {
		feeCap.SetInt64(EthFeeCap)
	}
	var hash common.Hash
	for attempt := 0; ; attempt++ {
		nonce, err := g.nextNonce(ctx, tx.From.addr)
		if err != nil {
			return nil, err
		}
		signed, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
			ChainID:   new(big.Int).SetUint64(g.chainID),
			Nonce:     nonce,
			GasTipCap: big.NewInt(EthTip),
			GasFeeCap: feeCap,
			Gas:       gas,
			To:        tx.To,
			Value:     value,
			Data:      tx.Data,
		}), types.LatestSignerForChainID(new(big.Int).SetUint64(g.chainID)), tx.From.key)
		if err != nil {
			return nil, fmt.Errorf("devnet: sign tx of %s nonce %d: %w", tx.From.addr, nonce, err)
		}
		raw, err := signed.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("devnet: encode tx %s: %w", signed.Hash(), err)
		}
		err = g.Call(ctx, &hash, "eth_sendRawTransaction", hexutil.Bytes(raw))
		if err != nil {
			delete(g.nonces, tx.From.addr) // re-read from the node
			// geth's pool checks a transaction against its own copy of the
			// head state, which it updates in the background after each
			// block: just after the block that funded the sender it can
			// still say "insufficient funds" (seen), or a nonce error.
			msg := err.Error()
			if attempt < submitRetries && (strings.Contains(msg, "nonce") || strings.Contains(msg, "insufficient funds")) {
				select {
				case <-ctx.Done():
					return nil, fmt.Errorf("devnet: send tx %s from %s nonce %d: %w (%w)", signed.Hash(), tx.From.addr, nonce, err, ctx.Err())
				case <-time.After(min(10*time.Millisecond<<attempt, 200*time.Millisecond)):
				}
				continue
			}
			return nil, fmt.Errorf("devnet: send tx %s from %s nonce %d: %w", signed.Hash(), tx.From.addr, nonce, err)
		}
		if hash != signed.Hash() {
			return nil, fmt.Errorf("devnet: eth_sendRawTransaction returned hash %s for tx %s: %w", hash, signed.Hash(), ErrMalformed)
		}
		g.nonces[tx.From.addr] = nonce + 1
		break
	}
	return g.WaitReceipt(ctx, hash)
}

func (g *Geth) nextNonce(ctx context.Context, addr common.Address) (uint64, error) {
	if n, ok := g.nonces[addr]; ok {
		return n, nil
	}
	// "latest", not "pending": every earlier transaction of ours is mined,
	// and the pool's pending state lags behind a SetHead.
	var n hexutil.Uint64
	if err := g.Call(ctx, &n, "eth_getTransactionCount", addr, "latest"); err != nil {
		return 0, fmt.Errorf("devnet: nonce of %s: %w", addr, err)
	}
	g.nonces[addr] = uint64(n)
	return uint64(n), nil
}

// EstimateGas returns eth_estimateGas for a call (to nil: a creation). A
// call that would revert gives an error wrapping *EthRPCError.
func (g *Geth) EstimateGas(ctx context.Context, from common.Address, to *common.Address, value *big.Int, data []byte) (uint64, error) {
	var est hexutil.Uint64
	if err := g.Call(ctx, &est, "eth_estimateGas", callArgs(from, to, value, data)); err != nil {
		return 0, err
	}
	return uint64(est), nil
}

// EthCall runs eth_call against the head block and returns the output.
func (g *Geth) EthCall(ctx context.Context, to common.Address, data []byte) ([]byte, error) {
	var out hexutil.Bytes
	if err := g.Call(ctx, &out, "eth_call", callArgs(common.Address{}, &to, nil, data), "latest"); err != nil {
		return nil, err
	}
	return out, nil
}

// Balance returns the wei balance of addr at the head block.
func (g *Geth) Balance(ctx context.Context, addr common.Address) (*big.Int, error) {
	var b hexutil.Big
	if err := g.Call(ctx, &b, "eth_getBalance", addr, "latest"); err != nil {
		return nil, err
	}
	return b.ToInt(), nil
}

// Code returns the code at addr at the head block (empty for an EOA or a
// deleted contract).
func (g *Geth) Code(ctx context.Context, addr common.Address) ([]byte, error) {
	var code hexutil.Bytes
	if err := g.Call(ctx, &code, "eth_getCode", addr, "latest"); err != nil {
		return nil, err
	}
	return code, nil
}

// WaitReceipt polls eth_getTransactionReceipt until the transaction is
// mined and its block is the head or below (at most 60 s), so that what
// the next SendTx reads at "latest" (estimate, base fee) includes it even
// if geth served the receipt before moving its head (not observed, cheap
// to rule out).
func (g *Geth) WaitReceipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	var r *types.Receipt
	for {
		var err error
		if r == nil {
			err = g.Call(ctx, &r, "eth_getTransactionReceipt", hash)
			if err == nil && r != nil && r.TxHash != hash {
				return nil, fmt.Errorf("devnet: receipt of tx %s is for %s: %w", hash, r.TxHash, ErrMalformed)
			}
		}
		if err == nil && r != nil {
			var tip uint64
			tip, err = g.Tip(ctx)
			if err == nil && r.BlockNumber != nil && tip >= r.BlockNumber.Uint64() {
				return r, nil
			}
		}
		if err != nil && errors.Is(err, ErrGethStopped) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return nil, fmt.Errorf("devnet: receipt of tx %s: %w (%w): last error: %w", hash, ErrTimeout, ctx.Err(), err)
			}
			return nil, fmt.Errorf("devnet: receipt of tx %s: %w: %w", hash, ErrTimeout, ctx.Err())
		case <-time.After(receiptPoll):
		}
	}
}

// callArgs is the transaction object of eth_call and eth_estimateGas.
func callArgs(from common.Address, to *common.Address, value *big.Int, data []byte) map[string]any {
	args := map[string]any{"input": hexutil.Bytes(data)}
	if from != (common.Address{}) {
		args["from"] = from
	}
	if to != nil {
		args["to"] = *to
	}
	if value != nil && value.Sign() > 0 {
		args["value"] = (*hexutil.Big)(value)
	}
	return args
}

func toString(to *common.Address) string {
	if to == nil {
		return "(creation)"
	}
	return to.Hex()
}
