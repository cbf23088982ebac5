package store

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/lib/pq"
)

// Sentinel errors returned by the store.
var (
	// ErrNotFound is returned when a block, transaction or address is not
	// indexed.
	ErrNotFound = errors.New("store: not found")
	// ErrUnavailable is returned when the database cannot be reached or
	// opened.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrConflict is returned when a write would break a uniqueness rule.
	ErrConflict = errors.New("store: conflict")
	// ErrBadURL is returned for a database URL fundtrace cannot use.
	ErrBadURL = errors.New("store: bad database url")
	// ErrUnknownPrevout is returned when an input spends an output that is
	// neither indexed nor known to the configured resolver.
	ErrUnknownPrevout = errors.New("store: input spends an unknown output")
	// ErrGap is returned when blocks would be written out of height order.
	ErrGap = errors.New("store: blocks not contiguous")
)

// mapError translates driver errors into store errors. It keeps the driver's
// message (which names what failed) but not its type.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch {
		case pqErr.Code == "23505":
			return fmt.Errorf("%w: %s", ErrConflict, pqErr.Message)
		case strings.HasPrefix(string(pqErr.Code), "08"), pqErr.Code == "3D000", pqErr.Code == "28P01", pqErr.Code == "28000", pqErr.Code == "57P03":
			return fmt.Errorf("%w: %s", ErrUnavailable, pqErr.Message)
		}
		return fmt.Errorf("postgres: %s (%s)", pqErr.Message, pqErr.Code)
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}
