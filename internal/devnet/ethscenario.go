package devnet

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fundtrace/fundtrace/internal/devnet/contracts"
)

// Kinds of action PopulateEth performs (EthAction.Kind, EthScenario.Counts).
const (
	EthFund          = "fund"              // dev account → EOA, plain ether
	EthDeploy        = "deploy"            // dev account deploys Token, OddToken or Splitter (no value)
	EthTransfer      = "eth-transfer"      // EOA → EOA, plain ether
	EthSplit         = "split"             // Splitter.split to 3 EOAs: 3 internal transfers
	EthForward       = "forward"           // Splitter.forward: 1 internal transfer
	EthTryForward    = "try-forward"       // Splitter.tryForward: reverted inner frame, then a refund frame; tx succeeds
	EthMint          = "mint"              // Token.mint by the owner: Transfer from 0x0
	EthTokenTransfer = "token-transfer"    // Token.transfer
	EthApprove       = "approve"           // Token.approve (Approval log, no transfer)
	EthTransferFrom  = "transfer-from"     // Token.transferFrom by the spender
	EthBurn          = "burn"              // Token.burn: Transfer to 0x0
	EthOddTransfer   = "odd-transfer"      // OddToken.transfer
	EthFailedToken   = "failed-token"      // Token.transfer of more than the balance: status 0, fee paid
	EthFailedValue   = "failed-value"      // Splitter.split with no recipients and value: status 0, value stays
	EthCreateValue   = "create-with-value" // EOA deploys a Splitter with value (payable constructor; it CREATEs a Child)
	EthSpawn         = "spawn"             // Splitter.spawn: CREATE2 of a Child with value
	EthDestroy       = "destroy"           // Child.destroy in a later tx: SELFDESTRUCT sends the balance, code stays
	EthSpawnDestroy  = "spawn-destroy"     // Splitter.spawnAndDestroy: CREATE2 with value and SELFDESTRUCT in one tx
)

// ethFailing lists the kinds whose transaction is meant to fail.
var ethFailing = map[string]bool{EthFailedToken: true, EthFailedValue: true}

// EthPlan says what PopulateEth makes.
type EthPlan struct {
	// Seed drives every choice (keys, amounts, salts, who pays whom):
	// equal seeds on fresh nodes give identical transactions.
	Seed string
	// Rounds of the full set of actions after the setup; at least 1.
	Rounds int
}

// EthAction is one transaction PopulateEth sent.
type EthAction struct {
	Kind   string
	Round  int // 0 for the setup
	Hash   common.Hash
	Block  uint64
	From   common.Address
	To     *common.Address // nil for a creation
	Value  *big.Int
	Status uint64 // receipt status: 1 success, 0 failure
	// Created is the contract the action created (receipt contract
	// address, or the Child from a Spawned event), zero otherwise.
	Created common.Address
}

// EthScenario describes what PopulateEth made.
type EthScenario struct {
	Tip      uint64         // head block after the last action
	Dev      common.Address // DevAddress: funds the EOAs, deploys, owns Token
	Coinbase common.Address // fee recipient of the blocks (geth --dev: the dev account)
	EOAs     []common.Address
	Token    common.Address
	OddToken common.Address
	Splitter common.Address // the one deployed by the dev account
	// Tokens lists the token contracts (Token, OddToken), sorted.
	Tokens []common.Address
	// Contracts lists every contract created, sorted: the three above,
	// each Splitter's helper Child, Splitters created with value, spawned
	// Children (destroyed ones included).
	Contracts []common.Address
	// Addresses lists every address touched, sorted and unique: dev
	// account, coinbase, EOAs and Contracts. The zero address of mints and
	// burns is not in it.
	Addresses []common.Address
	Actions   []EthAction   // in send order
	Failed    []common.Hash // transactions with status 0 (as designed)
	Counts    map[string]int
}

const ethEOAs = 4

var (
	ether   = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	milli   = new(big.Int).Exp(big.NewInt(10), big.NewInt(15), nil)
	failGas = uint64(1_000_000) // gas limit of the transactions meant to fail
)

// PopulateEth fills a geth --dev chain with every kind of value flow the
// extractor must handle. From the dev account it funds four EOAs
// (sha256(Seed+"/eoa/i") keys) with 100 ether each and deploys Token,
// OddToken and a Splitter; then each round sends, from random EOAs:
// two plain transfers, a split to the three other EOAs, a forward, a
// tryForward (inner frame reverted), Token mint (by the dev account),
// transfer, approve, transferFrom and burn, an OddToken transfer (from
// the dev account, which holds the supply), two failing transactions (a
// Token transfer beyond the balance and a split with value but no
// recipient, both with a fixed 1,000,000 gas limit: status 0, fee paid), a
// Splitter creation with value, a CREATE2 spawn with value followed by a
// destroy to an EOA, and a spawnAndDestroy. Every receipt status is
// checked against the design. With the default dev period each
// transaction gets a block of its own, but geth sometimes also seals an
// empty block in between (a race in its on-demand sealing), so block
// numbers vary between runs while transaction hashes do not.
func (g *Geth) PopulateEth(ctx context.Context, plan EthPlan) (*EthScenario, error) {
	if plan.Rounds < 1 {
		return nil, fmt.Errorf("%w: EthPlan.Rounds %d, want at least 1", ErrBadPlan, plan.Rounds)
	}
	p, err := newEthPopulator(g, plan)
	if err != nil {
		return nil, err
	}
	if err := p.setup(ctx); err != nil {
		return nil, err
	}
	for r := 1; r <= plan.Rounds; r++ {
		if err := p.round(ctx, r); err != nil {
			return nil, fmt.Errorf("devnet: populate eth round %d: %w", r, err)
		}
	}
	return p.finish(ctx)
}

type ethPopulator struct {
	g        *Geth
	plan     EthPlan
	rng      *rand.Rand
	dev      *EthAccount
	eoas     []*EthAccount
	token    *contracts.Contract
	odd      *contracts.Contract
	splitter *contracts.Contract
	child    *contracts.Contract
	s        *EthScenario
	// balances of Token and OddToken per holder, to choose amounts
	tok, oddBal map[common.Address]*big.Int
	curRound    int
}

func newEthPopulator(g *Geth, plan EthPlan) (*ethPopulator, error) {
	p := &ethPopulator{
		g:      g,
		plan:   plan,
		dev:    DevAccount(),
		tok:    map[common.Address]*big.Int{},
		oddBal: map[common.Address]*big.Int{},
		s:      &EthScenario{Dev: DevAddress, Counts: map[string]int{}},
	}
	seed := sha256.Sum256([]byte("fundtrace/devnet/eth/" + plan.Seed))
	p.rng = rand.New(rand.NewChaCha8(seed))
	for i := range ethEOAs {
		a := NewEthAccount(plan.Seed + "/eoa/" + strconv.Itoa(i))
		p.eoas = append(p.eoas, a)
		p.s.EOAs = append(p.s.EOAs, a.addr)
	}
	for _, c := range []struct {
		name string
		dst  **contracts.Contract
	}{{contracts.Token, &p.token}, {contracts.OddToken, &p.odd}, {contracts.Splitter, &p.splitter}, {contracts.Child, &p.child}} {
		k, err := contracts.Get(c.name)
		if err != nil {
			return nil, err
		}
		*c.dst = k
	}
	return p, nil
}

// send sends one action, checks its status against the design and
// records it.
func (p *ethPopulator) send(ctx context.Context, kind string, from *EthAccount, to *common.Address, value *big.Int, data []byte) (*types.Receipt, error) {
	tx := EthTx{From: from, To: to, Value: value, Data: data}
	if ethFailing[kind] {
		tx.Gas = failGas
	}
	r, err := p.g.SendTx(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	want := uint64(types.ReceiptStatusSuccessful)
	if ethFailing[kind] {
		want = types.ReceiptStatusFailed
	}
	if r.Status != want {
		return nil, fmt.Errorf("%s: tx %s in block %d has status %d, want %d%s", kind, r.TxHash, r.BlockNumber, r.Status, want, p.g.tails())
	}
	if value == nil {
		value = new(big.Int)
	}
	a := EthAction{
		Kind: kind, Round: p.curRound, Hash: r.TxHash, Block: r.BlockNumber.Uint64(),
		From: from.addr, Value: new(big.Int).Set(value), Status: r.Status,
	}
	if to != nil {
		a.To = new(common.Address)
		*a.To = *to
	}
	if to == nil {
		a.Created = r.ContractAddress
		p.s.Contracts = append(p.s.Contracts, r.ContractAddress)
	}
	if r.Status == types.ReceiptStatusFailed {
		p.s.Failed = append(p.s.Failed, r.TxHash)
	}
	p.s.Actions = append(p.s.Actions, a)
	p.s.Counts[kind]++
	return r, nil
}

// call sends a contract call built from the contract's ABI.
func (p *ethPopulator) call(ctx context.Context, kind string, from *EthAccount, c *contracts.Contract, at common.Address, value *big.Int, method string, args ...any) (*types.Receipt, error) {
	data, err := c.Call(method, args...)
	if err != nil {
		return nil, err
	}
	return p.send(ctx, kind, from, &at, value, data)
}

// deploy sends a creation and returns the new contract's address.
func (p *ethPopulator) deploy(ctx context.Context, kind string, from *EthAccount, c *contracts.Contract, value *big.Int, args ...any) (common.Address, error) {
	data, err := c.Deploy(args...)
	if err != nil {
		return common.Address{}, err
	}
	r, err := p.send(ctx, kind, from, nil, value, data)
	if err != nil {
		return common.Address{}, err
	}
	return r.ContractAddress, nil
}

// helperOf reads a Splitter's helper Child.
func (p *ethPopulator) helperOf(ctx context.Context, splitter common.Address) (common.Address, error) {
	data, err := p.splitter.Call("helper")
	if err != nil {
		return common.Address{}, err
	}
	out, err := p.g.EthCall(ctx, splitter, data)
	if err != nil {
		return common.Address{}, fmt.Errorf("helper of %s: %w", splitter, err)
	}
	if len(out) != 32 {
		return common.Address{}, fmt.Errorf("helper of %s: %w: %d bytes", splitter, ErrMalformed, len(out))
	}
	return common.BytesToAddress(out), nil
}

func (p *ethPopulator) setup(ctx context.Context) error {
	for _, a := range p.eoas {
		v := new(big.Int).Mul(big.NewInt(100), ether)
		v.Add(v, p.wei(1_000_000))
		if _, err := p.send(ctx, EthFund, p.dev, &a.addr, v, nil); err != nil {
			return err
		}
	}
	var err error
	if p.s.Token, err = p.deploy(ctx, EthDeploy, p.dev, p.token, nil, "Fundtrace Test Token", "FTT"); err != nil {
		return err
	}
	supply := new(big.Int).Mul(big.NewInt(1_000_000), ether)
	if p.s.OddToken, err = p.deploy(ctx, EthDeploy, p.dev, p.odd, nil, supply); err != nil {
		return err
	}
	p.oddBal[p.dev.addr] = supply
	if p.s.Splitter, err = p.deploy(ctx, EthDeploy, p.dev, p.splitter, nil); err != nil {
		return err
	}
	helper, err := p.helperOf(ctx, p.s.Splitter)
	if err != nil {
		return err
	}
	p.s.Contracts = append(p.s.Contracts, helper)
	return nil
}

// pick returns n distinct EOAs in random order.
func (p *ethPopulator) pick(n int) []*EthAccount {
	idx := p.rng.Perm(len(p.eoas))[:n]
	out := make([]*EthAccount, n)
	for i, j := range idx {
		out[i] = p.eoas[j]
	}
	return out
}

// wei returns a random amount in [1, max] wei.
func (p *ethPopulator) wei(max int64) *big.Int { return big.NewInt(1 + p.rng.Int64N(max)) }

// milliEther returns a random amount of about lo..hi milliether plus
// random wei (odd amounts exercise the split remainder).
func (p *ethPopulator) milliEther(lo, hi int64) *big.Int {
	v := new(big.Int).Mul(big.NewInt(lo+p.rng.Int64N(hi-lo+1)), milli)
	return v.Add(v, p.wei(999_999))
}

func bal(m map[common.Address]*big.Int, a common.Address) *big.Int {
	if b, ok := m[a]; ok {
		return b
	}
	b := new(big.Int)
	m[a] = b
	return b
}

func (p *ethPopulator) round(ctx context.Context, r int) error {
	p.curRound = r
	splitter := p.s.Splitter
	// Plain transfers between EOAs.
	for range 2 {
		ab := p.pick(2)
		if _, err := p.send(ctx, EthTransfer, ab[0], &ab[1].addr, p.milliEther(10, 2000), nil); err != nil {
			return err
		}
	}
	// Split to the three other EOAs.
	who := p.pick(4)
	if _, err := p.call(ctx, EthSplit, who[0], p.splitter, splitter, p.milliEther(30, 3000), "split",
		[]common.Address{who[1].addr, who[2].addr, who[3].addr}); err != nil {
		return err
	}
	ab := p.pick(2)
	if _, err := p.call(ctx, EthForward, ab[0], p.splitter, splitter, p.milliEther(1, 500), "forward", ab[1].addr); err != nil {
		return err
	}
	ab = p.pick(2)
	if _, err := p.call(ctx, EthTryForward, ab[0], p.splitter, splitter, p.milliEther(1, 500), "tryForward", ab[1].addr); err != nil {
		return err
	}

	// Token: mint, transfer, approve, transferFrom, burn.
	tok := p.s.Token
	who = p.pick(4) // holder, receiver, spender, destination of transferFrom
	holder, recv, spender, dest := who[0], who[1], who[2], who[3]
	minted := p.milliEther(1000, 100_000)
	if _, err := p.call(ctx, EthMint, p.dev, p.token, tok, nil, "mint", holder.addr, minted); err != nil {
		return err
	}
	bal(p.tok, holder.addr).Add(bal(p.tok, holder.addr), minted)
	amt := p.part(bal(p.tok, holder.addr))
	if _, err := p.call(ctx, EthTokenTransfer, holder, p.token, tok, nil, "transfer", recv.addr, amt); err != nil {
		return err
	}
	p.move(p.tok, holder.addr, recv.addr, amt)
	amt = p.part(bal(p.tok, holder.addr))
	if _, err := p.call(ctx, EthApprove, holder, p.token, tok, nil, "approve", spender.addr, amt); err != nil {
		return err
	}
	if _, err := p.call(ctx, EthTransferFrom, spender, p.token, tok, nil, "transferFrom", holder.addr, dest.addr, amt); err != nil {
		return err
	}
	p.move(p.tok, holder.addr, dest.addr, amt)
	burned := p.part(bal(p.tok, recv.addr))
	if _, err := p.call(ctx, EthBurn, recv, p.token, tok, nil, "burn", burned); err != nil {
		return err
	}
	bal(p.tok, recv.addr).Sub(bal(p.tok, recv.addr), burned)

	// OddToken from the dev account, which holds the supply.
	to := p.pick(1)[0]
	amt = p.part(bal(p.oddBal, p.dev.addr))
	if _, err := p.call(ctx, EthOddTransfer, p.dev, p.odd, p.s.OddToken, nil, "transfer", to.addr, amt); err != nil {
		return err
	}
	p.move(p.oddBal, p.dev.addr, to.addr, amt)

	// Failures: a transfer beyond the balance, a split with value and no
	// recipient (its value must not move).
	ab = p.pick(2)
	over := new(big.Int).Add(bal(p.tok, ab[0].addr), p.wei(1_000_000))
	if _, err := p.call(ctx, EthFailedToken, ab[0], p.token, tok, nil, "transfer", ab[1].addr, over); err != nil {
		return err
	}
	if _, err := p.call(ctx, EthFailedValue, ab[1], p.splitter, splitter, p.milliEther(1, 100), "split", []common.Address{}); err != nil {
		return err
	}

	// Creation with value: the new Splitter CREATEs its helper Child.
	creator := p.pick(1)[0]
	created, err := p.deploy(ctx, EthCreateValue, creator, p.splitter, p.milliEther(1, 1000))
	if err != nil {
		return err
	}
	helper, err := p.helperOf(ctx, created)
	if err != nil {
		return err
	}
	p.s.Contracts = append(p.s.Contracts, helper)

	// CREATE2 with value, then a destroy to an EOA in a later transaction.
	who = p.pick(3)
	salt := p.salt("spawn")
	rc, err := p.call(ctx, EthSpawn, who[0], p.splitter, splitter, p.milliEther(1, 1000), "spawn", salt)
	if err != nil {
		return err
	}
	child, err := p.spawned(rc, splitter, salt)
	if err != nil {
		return err
	}
	if _, err := p.call(ctx, EthDestroy, who[1], p.child, child, nil, "destroy", who[2].addr); err != nil {
		return err
	}
	// CREATE2 with value and SELFDESTRUCT in the same transaction.
	who = p.pick(2)
	salt = p.salt("spawn-destroy")
	rc, err = p.call(ctx, EthSpawnDestroy, who[0], p.splitter, splitter, p.milliEther(1, 1000), "spawnAndDestroy", salt, who[1].addr)
	if err != nil {
		return err
	}
	_, err = p.spawned(rc, splitter, salt)
	return err
}

// part returns a random amount in [1, b/2] (1 if b < 2).
func (p *ethPopulator) part(b *big.Int) *big.Int {
	half := new(big.Int).Rsh(b, 1)
	if half.Sign() <= 0 {
		return big.NewInt(1)
	}
	// A random fraction in 1/1000 steps of half, at least 1.
	v := new(big.Int).Mul(half, big.NewInt(1+p.rng.Int64N(1000)))
	v.Quo(v, big.NewInt(1000))
	if v.Sign() == 0 {
		v.SetInt64(1)
	}
	return v
}

func (p *ethPopulator) move(m map[common.Address]*big.Int, from, to common.Address, amt *big.Int) {
	bal(m, from).Sub(bal(m, from), amt)
	bal(m, to).Add(bal(m, to), amt)
}

func (p *ethPopulator) salt(what string) [32]byte {
	return crypto.Keccak256Hash([]byte(p.plan.Seed + "/" + strconv.Itoa(p.curRound) + "/" + what))
}

// spawned returns the Child a spawn created: the address in the Spawned
// log, which must equal the CREATE2 address. It records the Child on the
// action and in the scenario.
func (p *ethPopulator) spawned(r *types.Receipt, splitter common.Address, salt [32]byte) (common.Address, error) {
	ev := p.splitter.ABI.Events["Spawned"]
	want := crypto.CreateAddress2(splitter, salt, crypto.Keccak256(p.child.Bytecode))
	for _, l := range r.Logs {
		if l.Address != splitter || len(l.Topics) == 0 || l.Topics[0] != ev.ID {
			continue
		}
		vals, err := ev.Inputs.Unpack(l.Data)
		if err != nil || len(vals) != 2 {
			return common.Address{}, fmt.Errorf("spawn tx %s: Spawned log: %w: %v", r.TxHash, ErrMalformed, err)
		}
		got, _ := vals[0].(common.Address)
		if got != want {
			return common.Address{}, fmt.Errorf("spawn tx %s: child %s, CREATE2 address is %s", r.TxHash, got, want)
		}
		p.s.Actions[len(p.s.Actions)-1].Created = got
		p.s.Contracts = append(p.s.Contracts, got)
		return got, nil
	}
	return common.Address{}, fmt.Errorf("spawn tx %s: no Spawned log", r.TxHash)
}

func (p *ethPopulator) finish(ctx context.Context) (*EthScenario, error) {
	s := p.s
	head, err := p.g.header(ctx, "latest")
	if err != nil {
		return nil, err
	}
	s.Tip = uint64(head.Number)
	s.Coinbase = head.Miner
	s.Tokens = []common.Address{s.Token, s.OddToken}
	slices.SortFunc(s.Tokens, common.Address.Cmp)
	s.Contracts = sortedUnique(s.Contracts)
	all := append([]common.Address{s.Dev, s.Coinbase}, s.EOAs...)
	s.Addresses = sortedUnique(append(all, s.Contracts...))
	return s, nil
}

func sortedUnique(a []common.Address) []common.Address {
	out := slices.Clone(a)
	slices.SortFunc(out, common.Address.Cmp)
	return slices.Compact(out)
}
