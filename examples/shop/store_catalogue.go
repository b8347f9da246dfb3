package shop

// The store's catalogue writes: ImportCatalogue and SeedDemo
// (catalogue.go), which run on the database before any Service does. The
// catalogue's reads are the Store's (store.go).

import (
	"context"
	"fmt"
)

// importCatalogue writes c in one transaction, inserting or updating
// shops and goods by id, and refusing (with nothing written) goods that
// exist under another shop.
func (db *DB) importCatalogue(ctx context.Context, c Catalogue) (ImportResult, error) {
	var res ImportResult
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, s := range c.Shops {
		if _, err := tx.ExecContext(ctx, `INSERT INTO shops (id, name, address) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address`, s.ID, s.Name, s.Address); err != nil {
			return res, err
		}
		res.Shops++
		for _, g := range s.Goods {
			var shopID int64
			err := tx.QueryRowContext(ctx, `SELECT shop_id FROM goods WHERE id = $1`, g.ID).Scan(&shopID)
			if err == nil && shopID != s.ID {
				return ImportResult{}, fmt.Errorf("%w: goods %d belongs to shop %d, not %d; give it a new id", ErrCatalogue, g.ID, shopID, s.ID)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO goods (id, shop_id, name, price_fen) VALUES ($1, $2, $3, $4)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, price_fen = excluded.price_fen`, g.ID, s.ID, g.Name, g.PriceFen); err != nil {
				return ImportResult{}, err
			}
			res.Goods++
		}
	}
	return res, tx.Commit()
}

// insertMissing inserts c's shops and goods that are missing, in one
// transaction, and leaves the rows that exist as they are.
func (db *DB) insertMissing(ctx context.Context, c Catalogue) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, s := range c.Shops {
		if _, err := tx.ExecContext(ctx, `INSERT INTO shops (id, name, address) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
			s.ID, s.Name, s.Address); err != nil {
			return fmt.Errorf("shop: demo catalogue: %w", err)
		}
		for _, g := range s.Goods {
			if _, err := tx.ExecContext(ctx, `INSERT INTO goods (id, shop_id, name, price_fen) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
				g.ID, s.ID, g.Name, g.PriceFen); err != nil {
				return fmt.Errorf("shop: demo catalogue: %w", err)
			}
		}
	}
	return tx.Commit()
}
