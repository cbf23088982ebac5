package store

import (
	"context"
	"database/sql/driver"

	"modernc.org/sqlite"
)

// sqliteConnector opens modernc SQLite connections without registering a
// driver name globally through a blank import.
type sqliteConnector struct{ dsn string }

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	return (&sqlite.Driver{}).Open(c.dsn)
}

func (c sqliteConnector) Driver() driver.Driver { return &sqlite.Driver{} }
