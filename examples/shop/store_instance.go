package shop

// The store's instance record (instance.go): what a database belongs to.

import (
	"context"
	"fmt"
	"time"
)

// recordInstance writes inst as the database's instance unless one is
// recorded (INSERT … ON CONFLICT DO NOTHING, so that instances starting
// together on one PostgreSQL database agree on the first), and returns
// the one recorded.
func (db *DB) recordInstance(ctx context.Context, inst Instance) (Instance, error) {
	if _, err := db.W.ExecContext(ctx, `INSERT INTO instance (id, mode, appid, mch_id, created_at) VALUES (1, $1, $2, $3, $4)
		ON CONFLICT (id) DO NOTHING`, inst.Mode, inst.AppID, inst.MchID, time.Now().UnixMilli()); err != nil {
		return Instance{}, fmt.Errorf("shop: record the instance: %w", err)
	}
	var got Instance
	if err := db.W.QueryRowContext(ctx, `SELECT mode, appid, mch_id FROM instance WHERE id = 1`).Scan(&got.Mode, &got.AppID, &got.MchID); err != nil {
		return Instance{}, fmt.Errorf("shop: read the instance: %w", err)
	}
	return got, nil
}
