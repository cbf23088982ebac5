package synth

import "errors"

var (
	// ErrInvalidConfig is returned by Config.Validate and by the generators
	// for a configuration they cannot honour.
	ErrInvalidConfig = errors.New("synth: invalid config")
	// ErrDirNotEmpty is returned by WriteBlockDir when the target directory
	// already holds blk*.dat files.
	ErrDirNotEmpty = errors.New("synth: directory already holds block files")
)
