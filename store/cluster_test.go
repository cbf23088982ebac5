package store_test

import (
	"testing"

	"github.com/fundtrace/fundtrace/chains"
	"github.com/fundtrace/fundtrace/store"
	"github.com/fundtrace/fundtrace/store/storetest"
)

func edge(a, b, txID, height int64) store.ClusterEdge {
	return store.ClusterEdge{A: a, B: b, TxID: txID, Height: height, Rule: 1, Confidence: 90}
}

func addEdges(t *testing.T, db *store.DB, edges []store.ClusterEdge, flags ...store.CoinJoinFlag) {
	t.Helper()
	if err := db.InTx(t.Context(), func(tx *store.Tx) error {
		return tx.AddClusterEdges(t.Context(), chains.BTCRegtest, edges, flags)
	}); err != nil {
		t.Fatal(err)
	}
}

func unwindClusters(t *testing.T, db *store.DB, h int64) {
	t.Helper()
	if err := db.InTx(t.Context(), func(tx *store.Tx) error { return tx.UnwindClusters(t.Context(), chains.BTCRegtest, h) }); err != nil {
		t.Fatal(err)
	}
}

// TestClusterIncrementalAndUnwind: merges across batches take the smallest
// id (an absorbed cluster moves even when it is larger); an unwind
// rebuilds exactly what a clustering of the remaining edges gives.
func TestClusterIncrementalAndUnwind(t *testing.T) {
	batches := [][]store.ClusterEdge{
		{edge(1, 2, 10, 1), edge(3, 4, 11, 1), edge(4, 8, 11, 1)},
		{edge(2, 3, 20, 2), edge(5, 6, 21, 2)},
		{edge(6, 7, 30, 3), edge(1, 9, 31, 3)},
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		fresh := func(upTo int) string {
			t.Helper()
			f := storetest.SQLite(t)
			for _, b := range batches[:upTo] {
				addEdges(t, f, b)
			}
			s, err := f.Checksum(t.Context(), chains.BTCRegtest)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		sum := func() string {
			s, err := db.Checksum(t.Context(), chains.BTCRegtest)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		for _, b := range batches {
			addEdges(t, db, b)
		}
		addEdges(t, db, nil, store.CoinJoinFlag{TxID: 32, Height: 3, Detector: "whirlpool", Confidence: 60, Denomination: 1000000, Participants: 5})
		st, err := db.ClusterStatistics(t.Context(), chains.BTCRegtest)
		if err != nil {
			t.Fatal(err)
		}
		// {1,2,3,4,8,9} and {5,6,7}.
		if st.MultiAddressClusters != 2 || st.Largest != 6 || st.LargestID != 1 || st.Sizes["3-9"] != 2 || st.Edges != 7 || st.CoinJoins != 1 {
			t.Errorf("stats = %+v", st)
		}
		unwindClusters(t, db, 2)
		if got, want := sum(), fresh(2); got != want {
			t.Errorf("after unwind to 2:\n%s\nwant:\n%s", got, want)
		}
		unwindClusters(t, db, 1)
		if got, want := sum(), fresh(1); got != want {
			t.Errorf("after unwind to 1:\n%s\nwant:\n%s", got, want)
		}
		for _, b := range batches[1:] {
			addEdges(t, db, b)
		}
		if got, want := sum(), fresh(3); got != want {
			t.Errorf("after re-applying:\n%s\nwant:\n%s", got, want)
		}
	})
}
