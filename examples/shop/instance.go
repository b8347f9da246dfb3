package shop

import (
	"context"
	"fmt"
)

// Modes a database can belong to.
const (
	// ModeFake is a server whose WeChat is a fake (in-process, or the
	// standalone one of shared-fake mode) that marks orders paid for free.
	ModeFake = "fake"
	// ModeReal is a server that takes real payments for one merchant.
	ModeReal = "real"
)

// Instance is what a database belongs to: a mode and, in real mode, the
// merchant (mch_id) and the mini-program (appid) its payments go to.
type Instance struct {
	Mode  string // ModeFake or ModeReal
	AppID string // real mode only
	MchID string // real mode only
}

// String names the instance for a person: "fake mode", or "real mode for
// mch_id …, appid …".
func (i Instance) String() string {
	if i.Mode == ModeReal {
		return fmt.Sprintf("real mode for mch_id %s, appid %s", i.MchID, i.AppID)
	}
	return i.Mode + " mode"
}

// InstanceError is a database that belongs to another mode or merchant
// than the server starting on it.
type InstanceError struct {
	Recorded, Starting Instance
}

// Error says what the database belongs to, what tried to start on it, and
// what to do.
func (e *InstanceError) Error() string {
	msg := fmt.Sprintf("shop: this database belongs to %s and this server starts in %s", e.Recorded, e.Starting)
	if e.Recorded.Mode != e.Starting.Mode {
		msg += "; fake-mode payments are not real, so fake and real mode never share a database"
	}
	return msg + ": give this server its own database (DB_PATH, -db or DATABASE_URL)"
}

// Claim binds the database to inst at its first start and, at every later
// start, refuses an inst that is not the one recorded, with an
// *InstanceError. A fake-mode server (payments for free) on a real
// database would mark real orders paid, and a real server on a fake one
// would serve fake payments as paid; a database of one merchant opened
// for another would send its orders to the wrong account. Fake mode makes
// up its merchant at each start, so only its mode is recorded.
//
// The row is written once (INSERT … ON CONFLICT DO NOTHING) and then read,
// so instances starting together on one PostgreSQL database agree on the
// first.
func (db *DB) Claim(ctx context.Context, inst Instance) error {
	if inst.Mode != ModeFake && inst.Mode != ModeReal {
		return fmt.Errorf("shop: unknown mode %q", inst.Mode)
	}
	if inst.Mode == ModeFake {
		inst.AppID, inst.MchID = "", ""
	}
	got, err := db.recordInstance(ctx, inst)
	if err != nil {
		return err
	}
	if got != inst {
		return &InstanceError{Recorded: got, Starting: inst}
	}
	return nil
}
