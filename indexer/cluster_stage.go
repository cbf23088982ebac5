package indexer

import (
	"context"
	"fmt"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/heuristics/cluster"
	"github.com/fundtrace/fundtrace/store"
)

// payJoinSignalsToHold is how many PayJoin signals (cluster.PayJoinSignals)
// make a transaction's common-input merges held back (algorithms.md §2.4).
const payJoinSignalsToHold = 2

// payJoinFrom is the first Bitcoin mainnet height at which PayJoin (BIP78,
// released in BTCPay Server in spring 2020) can occur; before it, round
// 2009-era amounts would look like PayJoin signals.
const payJoinFrom = 620_000

// ClusterStage clusters a UTXO chain as it is indexed: every non-coinbase
// transaction that no detector flags as a CoinJoin merges its input
// addresses (common-input ownership), every merge stored with its
// evidence; flagged CoinJoins are recorded with detector and confidence;
// the merges of transactions with two or more PayJoin signals are stored
// but held back.
// It runs after the UTXO stage, in the same transaction, and reads the
// inputs that stage resolved. Unwind removes the merges above the fork and
// rebuilds the clusters they touched, so the clusters always equal a
// clustering of the indexed chain from scratch.
type ClusterStage struct{ chain chains.ID }

// NewClusterStage returns the clustering stage of chain.
func NewClusterStage(chain chains.ID) *ClusterStage { return &ClusterStage{chain: chain} }

// Name implements Stage.
func (*ClusterStage) Name() string { return "cluster" }

// Forward implements Stage.
func (s *ClusterStage) Forward(ctx context.Context, tx *store.Tx, blocks []chains.Block) error {
	if len(blocks) == 0 {
		return nil
	}
	first, ins, err := tx.ClusterInputs(ctx, s.chain, blocks[0].Height, blocks[len(blocks)-1].Height)
	if err != nil {
		return err
	}
	var (
		edges []store.ClusterEdge
		flags []store.CoinJoinFlag
	)
	id := first
	j := 0
	for b := range blocks {
		blk := &blocks[b]
		for t := range blk.Txs {
			ct := &blk.Txs[t]
			view := cluster.Tx{Hash: ct.Hash, Height: blk.Height, Version: ct.Version, LockTime: ct.LockTime,
				Coinbase: ct.Coinbase, VSize: (ct.Weight + 3) / 4}
			ids := make([]int64, 0, len(ct.Inputs))
			for ; j < len(ins) && ins[j].TxID == id; j++ {
				in := &ins[j]
				ci := cluster.Input{Address: in.Address.String, Value: uint64(in.Value.Int64),
					ScriptType: chains.ScriptType(in.ScriptType.Int16), Sequence: uint32(in.Sequence), Known: in.Value.Valid}
				if k := len(view.Inputs); k < len(ct.Inputs) {
					ci.Prev = ct.Inputs[k].Prev
				}
				view.Inputs = append(view.Inputs, ci)
				ids = append(ids, in.AddressID.Int64)
			}
			if len(view.Inputs) != len(ct.Inputs) {
				return fmt.Errorf("cluster %s block %d tx %s: %d stored inputs, the block has %d", s.chain, blk.Height, ct.Hash, len(view.Inputs), len(ct.Inputs))
			}
			for _, o := range ct.Outputs {
				view.Outputs = append(view.Outputs, cluster.Output{Address: o.Address, Value: o.Value, ScriptType: o.ScriptType})
			}
			if !ct.Coinbase && len(ct.Inputs) > 1 {
				if cj, ok := cluster.DetectCoinJoin(&view); ok {
					flags = append(flags, store.CoinJoinFlag{TxID: id, Height: blk.Height, Detector: cj.Detector,
						Confidence: uint8(cj.Confidence), Denomination: int64(cj.Denomination), Participants: cj.Participants})
				} else {
					// Two or more PayJoin signals: the inputs may be two
					// wallets'; keep the evidence, do not merge.
					held := s.payJoinPossible(blk.Height) && len(cluster.PayJoinSignals(&view)) >= payJoinSignalsToHold
					for _, e := range cluster.CIOH(&view, id, ids) {
						edges = append(edges, store.ClusterEdge{A: e.A, B: e.B, TxID: e.TxID, Height: e.Height,
							Rule: uint8(e.Rule), Confidence: uint8(e.Confidence), Held: held})
					}
				}
			}
			id++
		}
	}
	return tx.AddClusterEdges(ctx, s.chain, edges, flags)
}

// payJoinPossible reports whether a transaction at height may be a PayJoin.
func (s *ClusterStage) payJoinPossible(height int64) bool {
	return s.chain != chains.BTC || height >= payJoinFrom
}

// Unwind implements Stage.
func (s *ClusterStage) Unwind(ctx context.Context, tx *store.Tx, height int64) error {
	return tx.UnwindClusters(ctx, s.chain, height)
}
