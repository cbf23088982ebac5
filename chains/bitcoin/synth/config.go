package synth

import (
	"fmt"
	"math"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// CoinbaseMaturity is the number of blocks after which a coinbase output
// may be spent on regtest (as on every Bitcoin network).
const CoinbaseMaturity = 100

// Limits checked by Config.Validate.
const (
	// MaxTxsPerBlock keeps generated blocks well inside the 4,000,000
	// weight-unit consensus limit: 2,000 transactions weigh about 2.0M
	// (about 0.75 MB), 3,000 at most about 3.0M.
	MaxTxsPerBlock = 3000
	// MinFileSize and MaxFileSize bound Config.MaxFileSize.
	MinFileSize = 64 << 10
	MaxFileSize = 1 << 30
)

// Config describes the chain to generate. The zero value is not usable;
// start from DefaultConfig.
type Config struct {
	// Blocks is the number of blocks after the genesis block, so the tip
	// height is Blocks.
	Blocks int
	// TxsPerBlock is the number of non-coinbase transactions in each block
	// once the ramp-up is over.
	TxsPerBlock int
	// Seed selects the chain; the same Config always yields the same bytes.
	Seed int64
	// FundingBlocks is the number of coinbase-only blocks after genesis, at
	// least CoinbaseMaturity: nothing is spendable before that.
	FundingBlocks int
	// RampBlocks is the number of blocks after the funding blocks over which
	// the transaction count grows linearly up to TxsPerBlock.
	RampBlocks int
	// StartTime is the timestamp (Unix seconds) of block 1. Later blocks
	// follow at 1 to 1,200 seconds (600 on average), strictly increasing.
	StartTime int64
	// MaxFileSize is the size a blk*.dat file may not exceed, unless a single
	// block is larger. Bitcoin Core uses 128 MiB.
	MaxFileSize int64
}

// DefaultConfig is the benchmark chain: 610 blocks after genesis, of which
// 100 fund the chain, 10 ramp up and 500 carry 2,000 transactions each, for
// 1,009,995 non-coinbase transactions (about 365 MB of blk files).
func DefaultConfig() Config {
	return Config{
		Blocks:        610,
		TxsPerBlock:   2000,
		Seed:          1,
		FundingBlocks: CoinbaseMaturity,
		RampBlocks:    10,
		StartTime:     1704067200, // 2024-01-01T00:00:00Z
		MaxFileSize:   128 << 20,
	}
}

// Validate reports whether the generator can honour c. Its errors wrap
// ErrInvalidConfig.
func (c Config) Validate() error {
	genesisTime := chaincfg.RegressionNetParams.GenesisBlock.Header.Timestamp.Unix()
	switch {
	case c.Blocks < 1:
		return fmt.Errorf("%w: blocks %d, want at least 1", ErrInvalidConfig, c.Blocks)
	case c.TxsPerBlock < 1 || c.TxsPerBlock > MaxTxsPerBlock:
		return fmt.Errorf("%w: txs per block %d, want 1 to %d", ErrInvalidConfig, c.TxsPerBlock, MaxTxsPerBlock)
	case c.FundingBlocks < CoinbaseMaturity:
		return fmt.Errorf("%w: funding blocks %d, want at least the coinbase maturity %d",
			ErrInvalidConfig, c.FundingBlocks, CoinbaseMaturity)
	case c.RampBlocks < 0:
		return fmt.Errorf("%w: ramp blocks %d, want 0 or more", ErrInvalidConfig, c.RampBlocks)
	case c.StartTime <= genesisTime:
		return fmt.Errorf("%w: start time %d is not after the genesis block's %d", ErrInvalidConfig, c.StartTime, genesisTime)
	case c.StartTime+int64(c.Blocks)*maxBlockInterval > math.MaxUint32:
		return fmt.Errorf("%w: start time %d leaves no room for %d blocks in a uint32 timestamp",
			ErrInvalidConfig, c.StartTime, c.Blocks)
	case c.MaxFileSize < MinFileSize || c.MaxFileSize > MaxFileSize:
		return fmt.Errorf("%w: max file size %d, want %d to %d", ErrInvalidConfig, c.MaxFileSize, MinFileSize, MaxFileSize)
	}
	return nil
}

// TxsAt is the number of non-coinbase transactions in the block at height
// (0 for the genesis and funding blocks).
func (c Config) TxsAt(height int) int {
	i := height - c.FundingBlocks
	switch {
	case height < 1 || height > c.Blocks || i < 1:
		return 0
	case i <= c.RampBlocks:
		return max(1, c.TxsPerBlock*i/(c.RampBlocks+1))
	default:
		return c.TxsPerBlock
	}
}

// TotalTxs is the number of non-coinbase transactions in the whole chain.
func (c Config) TotalTxs() int64 {
	var n int64
	for h := 1; h <= c.Blocks; h++ {
		n += int64(c.TxsAt(h))
	}
	return n
}
